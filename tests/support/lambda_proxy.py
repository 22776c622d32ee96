"""The proxy function run as Lambda runs it: the streaming layer's exec wrapper starts the runtime loop as
a subprocess, which takes events from a Runtime API emulator. AWS is a moto server on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from moto.server import ThreadedMotoServer

from overspill.config import Settings
from overspill.keys import generate_key
from overspill.local.provision import provision
from overspill.store.access_keys import AccessKeyRepository
from overspill.store.models import bind_models
from overspill.store.users import UserRepository
from tests.support.gateway import TEST_AWS_ENV

ROOT = Path(__file__).resolve().parents[2]
WRAPPER = ROOT / "layers" / "streaming" / "streaming-bootstrap"


class LambdaProxy:
    """Everything a proxy function needs around it, plus the function itself as a subprocess."""

    def __init__(self, runtime_api_address: str, anthropic_url: str) -> None:
        self._runtime_api_address = runtime_api_address
        self._anthropic_url = anthropic_url
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> LambdaProxy:
        os.environ.update(TEST_AWS_ENV)
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.settings = Settings(anthropic_url=self._anthropic_url, aws_endpoint_url=f"http://{host}:{port}")
        pepper, self.settings = provision(self.settings)
        pepper = pepper.encode()
        bind_models(self.settings)
        user = UserRepository().create("Lambda Dev")
        new_key = generate_key(pepper)
        AccessKeyRepository().add(user.user_id, new_key)
        self.user_id, self.key = user.user_id, new_key.plain
        return self

    def start_function(self) -> subprocess.Popen:
        env = {
            "PATH": os.environ["PATH"],
            **TEST_AWS_ENV,
            **self.settings.as_env(),
            "_HANDLER": "handler.handler",
            "LAMBDA_TASK_ROOT": str(ROOT / "functions" / "proxy"),
            # On Lambda the core layer is /opt/python; here the package comes from the source tree.
            "PYTHONPATH": str(ROOT / "layers" / "core"),
            "AWS_LAMBDA_RUNTIME_API": self._runtime_api_address,
            "AWS_LAMBDA_FUNCTION_NAME": "overspill-proxy",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/overspill-proxy",
            "AWS_LAMBDA_LOG_STREAM_NAME": "test",
            "POWERTOOLS_SERVICE_NAME": "overspill",
        }
        self.process = subprocess.Popen([str(WRAPPER), sys.executable, "/var/runtime/bootstrap.py"], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return self.process

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.moto.stop()
