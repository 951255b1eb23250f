"""Scenario files: `loader` parses and validates them (pure), `runner` runs them
against a simulator through boto3 and the /_sim control plane."""
from .loader import Scenario, ScenarioError, load, parse
from .runner import Runner, ScenarioResult, main, run_paths

__all__ = ["Runner", "Scenario", "ScenarioError", "ScenarioResult", "load", "main", "parse", "run_paths"]
