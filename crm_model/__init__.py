"""Customers and campaigns that generate demand: forecasts for planning, order streams for simulation."""

from __future__ import annotations

from crm_model.demand import ORDER_COLUMNS, DemandModel, DemandShock, campaign_lift
from crm_model.stream import OUTCOME_COLUMNS, OrderStream

__all__ = [
    "ORDER_COLUMNS",
    "OUTCOME_COLUMNS",
    "DemandModel",
    "DemandShock",
    "OrderStream",
    "campaign_lift",
]
