"""The facade's templates and configuration sets (SPEC §10).

A part of the facade (simulator/service/facade.py), which is the only path that
mutates state; the parts share its attributes (store, clock, ports, settings).
"""
from __future__ import annotations

from ..core import tags as tag_rules
from ..core.errors import (BadRequestException, ConfigurationSetAlreadyExists, InvalidConfigurationSet,
                           TemplateAlreadyExists)
from ..core.model import Scope
from ..mail import templates

from .common import (
    NAMED_RE,
    after_token,
    configuration_set_not_found,
    paged,
    template_content,
    template_name_from_arn,
    template_not_found,
)


class Catalog:
    # --- templates and configuration sets ----------------------------------------
    def create_template(self, scope: Scope, name: object, content: templates.TemplateContent,
                        tags: list[dict] | None = None) -> None:
        tags = tag_rules.validate_resource(tags)
        name = templates.validate_name(name)
        templates.validate(name, content)
        row = {"name": name, "created_at": self.now(), "subject": content.subject, "text": content.text,
               "html": content.html, "tags": tags}
        if not self.store.write(lambda tx: self.store.insert_named(tx, "templates", scope.account, scope.region,
                                                                    row)):
            raise TemplateAlreadyExists(f"Email template {name} already exists.",
                                        v1_message=f"Template {name} already exists.")

    def update_template(self, scope: Scope, name: object, content: templates.TemplateContent) -> None:
        name = self.get_template(scope, name)["name"]
        templates.validate(name, content)
        row = {"name": name, "subject": content.subject, "text": content.text, "html": content.html}
        if not self.store.write(lambda tx: self.store.update_template(tx, scope.account, scope.region, row)):
            raise template_not_found(name)  # deleted meanwhile

    def get_template(self, scope: Scope, name: object) -> dict:
        return self._get_named("templates", scope, name, template_not_found)

    def delete_template(self, scope: Scope, name: object) -> None:
        self._delete_named("templates", scope, name, template_not_found)

    def list_templates(self, scope: Scope, page_size: int | None, next_token: str | None,
                       max_page: int = 100) -> tuple[list[dict], str | None]:
        return self._list_named("templates", scope, page_size, next_token, max_page)

    def test_render_template(self, scope: Scope, name: object, data: object) -> str:
        """TestRender*: the stored template rendered with `data`, as MIME text."""
        content = template_content(self.get_template(scope, name))
        return templates.render_mime(templates.render(content, templates.parse_data(data)))

    def _template_for(self, scope: Scope, spec: dict) -> tuple[str | None, templates.TemplateContent]:
        """The template a send names (TemplateName or TemplateArn) or carries (TemplateContent)."""
        given = [k for k in ("TemplateName", "TemplateArn", "TemplateContent") if spec.get(k) is not None]
        if len(given) != 1:
            raise BadRequestException("Specify exactly one of TemplateName, TemplateArn or TemplateContent.")
        if given[0] == "TemplateContent":
            inline = spec["TemplateContent"]
            if not isinstance(inline, dict):
                raise BadRequestException("TemplateContent must be a structure.")
            content = templates.TemplateContent(inline.get("Subject"), inline.get("Text"), inline.get("Html"))
            templates.validate("(inline)", content)
            return None, content
        name = spec["TemplateName"] if given[0] == "TemplateName" else template_name_from_arn(scope, spec["TemplateArn"])
        return name, template_content(self.get_template(scope, name))

    def template_arn(self, scope: Scope, name: str) -> str:
        return f"arn:aws:ses:{scope.region}:{scope.account}:template/{name}"

    def create_configuration_set(self, scope: Scope, name: object, tags: list[dict] | None = None) -> None:
        tags = tag_rules.validate_resource(tags)
        if not isinstance(name, str) or not NAMED_RE.match(name):
            raise InvalidConfigurationSet(
                f"Invalid configuration set name {name!r}: up to 64 ASCII letters, digits, '_' or '-'.")
        row = {"name": name, "created_at": self.now(), "tags": tags}
        if not self.store.write(lambda tx: self.store.insert_named(tx, "configuration_sets", scope.account,
                                                                    scope.region, row)):
            raise ConfigurationSetAlreadyExists(f"Configuration set <{name}> already exists.",
                                                v1_message=f"Configuration set <{name}> already exists.")

    def get_configuration_set(self, scope: Scope, name: object) -> dict:
        return self._get_named("configuration_sets", scope, name, configuration_set_not_found)

    def delete_configuration_set(self, scope: Scope, name: object) -> None:
        self._delete_named("configuration_sets", scope, name, configuration_set_not_found)

    def list_configuration_sets(self, scope: Scope, page_size: int | None, next_token: str | None,
                                max_page: int = 1000) -> tuple[list[dict], str | None]:
        return self._list_named("configuration_sets", scope, page_size, next_token, max_page)

    def _require_configuration_set(self, scope: Scope, name: str | None) -> None:
        """A request that names a configuration set needs it to exist (SPEC §10)."""
        if name is not None:
            self.get_configuration_set(scope, name)

    def _get_named(self, table: str, scope: Scope, name: object, not_found) -> dict:
        found = self.store.get_named(table, scope.account, scope.region, _name_text(name))
        if found is None:
            raise not_found(name)
        return found

    def _delete_named(self, table: str, scope: Scope, name: object, not_found) -> None:
        name = _name_text(name)
        if not self.store.write(lambda tx: self.store.delete_named(tx, table, scope.account, scope.region, name)):
            raise not_found(name)

    def _list_named(self, table: str, scope: Scope, page_size: int | None, next_token: str | None,
                    max_page: int) -> tuple[list[dict], str | None]:
        if page_size is None:
            page_size = max_page
        if not isinstance(page_size, int) or isinstance(page_size, bool) or not 1 <= page_size <= max_page:
            raise BadRequestException(f"PageSize must be an integer from 1 to {max_page}.")
        rows = self.store.list_named(table, scope.account, scope.region, after_token(next_token, table), page_size + 1)
        return paged(rows, page_size, lambda row: row["name"], table)


def _name_text(name: object) -> str:
    """A template's or configuration set's name as a request gives it: text, or a bad request
    (a number or a list names nothing, and is not reported as missing)."""
    if not isinstance(name, str):
        raise BadRequestException(f"The name must be a string, not {type(name).__name__}.")
    return name
