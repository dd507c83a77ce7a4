"""Demo traffic: a realistic Spring Boot log generator, fault scenarios and a Kafka producer/replayer."""

from loglens.demo.generator import TrafficGenerator
from loglens.demo.scenarios import SCENARIOS, Scenario, get_scenario

__all__ = ["SCENARIOS", "Scenario", "TrafficGenerator", "get_scenario"]
