"""Telecom KPIs over tumbling windows, as pure aggregation code."""
