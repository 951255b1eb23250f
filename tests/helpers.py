"""Test helpers: a /_sim control-plane client, boto3 clients, and a simulator process."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import boto3
from botocore.config import Config


class SimControl:
    """Speaks the /_sim JSON envelope over real HTTP."""

    def __init__(self, url: str, token: str | None = None):
        self.url = url.rstrip("/")
        self.headers = {"Content-Type": "application/json"}
        if token is not None:  # the server's --control-token
            self.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body=None, raw: bytes | None = None) -> tuple[int, dict]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def ok(self, method: str, path: str, body=None) -> dict:
        status, payload = self.call(method, path, body)
        assert payload.get("success") is True, (status, payload)
        return payload["data"]

    def add_mx(self, name: str, host: str = "feedback-smtp.us-east-1.amazonses.com", pref: int = 10) -> str:
        return self.ok("POST", "/_sim/dns/records", {"name": name, "type": "MX", "value": f"{pref} {host}"})["id"]

    def remove_records(self, name: str) -> None:
        for record in self.ok("GET", "/_sim/dns/records")["records"]:
            if record["name"] == name:
                self.ok("DELETE", f"/_sim/dns/records/{record['id']}")

    def history(self, identity: str, **scope) -> list[dict]:
        query = "&".join(f"{k}={v}" for k, v in scope.items())
        return self.ok("GET", f"/_sim/identities/{identity}/history" + (f"?{query}" if query else ""))["history"]


def aws_client(service: str, endpoint: str, region: str = "us-east-1", account: str | None = None):
    return boto3.client(
        service, endpoint_url=endpoint, region_name=region,
        aws_access_key_id=account or "testing", aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


class SimulatorProcess:
    """`mailfrom-sim serve` as a real child process on ephemeral ports."""

    def __init__(self, *args: str, env: dict | None = None):
        self.args = args
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen | None = None
        self.url = self.dns = ""

    def start(self) -> "SimulatorProcess":
        self.process = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "serve", "--port", "0", "--dns-port", "0", "--smtp-port", "0",
             *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env,
        )
        deadline = time.time() + 20
        while time.time() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            match = re.search(r"ready: API (\S+) DNS (\S+)", line)
            if match:
                self.url, self.dns = match.group(1), match.group(2)
                # Read the output as it comes: a full pipe would stall whichever thread logs next.
                self._output = [line]
                self._reader = threading.Thread(target=self._output.extend, args=(self.process.stdout,),
                                                daemon=True)
                self._reader.start()
                return self
        self.process.kill()
        raise RuntimeError(f"simulator did not start: {self.process.stdout.read()}")

    def stop(self, sig: str = "term") -> str:
        assert self.process is not None
        if sig == "kill":
            self.process.kill()
        else:
            self.process.terminate()
        self.process.wait(timeout=20)
        return self.output()

    def output(self) -> str:
        """Everything the process wrote, once it has ended."""
        self._reader.join(timeout=20)
        return "".join(self._output)
