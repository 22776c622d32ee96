"""The proxy's cold start does not pay for the AWS Encryption SDK unless a fallback needs stored credentials."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import overspill.credentials
import overspill.credentials.clients
import overspill.credentials.store
import overspill.credentials.vault
print(json.dumps({"sdk": "aws_encryption_sdk" in sys.modules, "boto3": "boto3" in sys.modules,
                  "cryptography": any(m == "cryptography" or m.startswith("cryptography.") for m in sys.modules)}))
"""


def test_importing_the_credentials_package_does_not_import_the_encryption_sdk():
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            check=True)
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == {"sdk": False, "boto3": False, "cryptography": False}, loaded
