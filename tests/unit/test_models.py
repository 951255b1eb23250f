"""The botocore models are read from botocore's own files, and clients of the simulator
made without the user's AWS configuration: an AWS_PROFILE naming no profile must stop
neither the simulator nor a scenario run nor the pytest kit."""
import subprocess
import sys


def test_models_load_under_a_profile_that_does_not_exist():
    code = ("from simulator.models import boto3_session, load_models, service_model; load_models(); "
            "client = boto3_session().client('sesv2', region_name='us-east-1', endpoint_url='http://127.0.0.1:9', "
            "aws_access_key_id='a', aws_secret_access_key='b'); "
            "print(len(service_model('sesv2').operation_names) > 50)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={"AWS_PROFILE": "no-such-profile", "AWS_CONFIG_FILE": "/nonexistent",
                                 "PATH": "/usr/bin:/bin"})
    assert (result.returncode, result.stdout.strip()) == (0, "True"), result.stderr
