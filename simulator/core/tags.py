"""Tag validation with AWS's recorded messages (SPEC §10, §16), for message tags
(v2 `EmailTags`/`DefaultEmailTags`/`ReplacementTags`, v1 `Tags`/`DefaultTags`)
and identity tags (`CreateEmailIdentity` `Tags`, Key/Value). Checked before the
sender; the name is reported before the value. Pure.
"""
from __future__ import annotations

import re

from .errors import BadRequestException

MAX_LENGTH = 255
MAX_RESOURCE_TAGS = 50  # the sesv2 model's Tag: "A resource can have as many as 50 tags."
_NAME = re.compile(r"^[A-Za-z0-9_-]*$")
_VALUE = re.compile(r"^[A-Za-z0-9_\-.@]*$")


def validate(tags: object, name_key: str = "Name", value_key: str = "Value") -> list[dict]:
    """The tags as given, or the first problem as AWS words it (v1: InvalidParameterValue)."""
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(tag, dict) for tag in tags):
        raise BadRequestException("Tags must be a list of structures.")
    for tag in tags:
        name, value = tag.get(name_key, ""), tag.get(value_key, "")
        if not isinstance(name, str) or not isinstance(value, str):
            raise BadRequestException("A tag's name and value must be strings.")
        # Every rule on the name comes before any on the value (SPEC §16).
        if name == "":
            raise BadRequestException("The tag name must be specified.")
        if len(name) > MAX_LENGTH:
            raise BadRequestException("Tag name cannot exceed 255 characters.")
        # The "ses:" prefix names SES's own auto-tags and is not held against the name.
        if not _NAME.match(name.removeprefix("ses:")):
            raise BadRequestException(
                f"Invalid tag name <{name}>: only alphanumeric ASCII characters, '_',  '-' are allowed.")
        if value == "":
            raise BadRequestException("The tag value must be specified.")
        if len(value) > MAX_LENGTH:
            raise BadRequestException("Tag value cannot exceed 255 characters.")
        if not _VALUE.match(value):
            raise BadRequestException(
                f"Invalid tag value <{value}>: only alphanumeric ASCII characters, '_',  '-' , '.', '@' are allowed.")
    return [{name_key: tag[name_key], value_key: tag[value_key]} for tag in tags]


def validate_resource(tags: object) -> list[dict]:
    """A resource's `Tags` (identity, template, configuration set; Key/Value): the recorded
    texts above (SPEC §10), and the two rules the models' Tag shape adds, which no recorded
    text covers: at most 50 tags, and each key once."""
    checked = validate(tags, "Key", "Value")
    if len(checked) > MAX_RESOURCE_TAGS:
        raise BadRequestException(f"A resource can have at most {MAX_RESOURCE_TAGS} tags; {len(checked)} were given.")
    seen: set[str] = set()
    for tag in checked:
        if tag["Key"] in seen:
            raise BadRequestException(f"Tag keys must be unique: {tag['Key']} is given more than once.")
        seen.add(tag["Key"])
    return checked
