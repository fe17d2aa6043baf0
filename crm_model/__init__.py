"""Customers and campaigns that generate demand: forecasts for planning, order streams for
simulation, service feedback, and CRM analytics fitted from transaction histories."""

from __future__ import annotations

from crm_model.demand import ORDER_COLUMNS, DemandModel, DemandShock, campaign_lift
from crm_model.kpis import CRM_KPI_COLUMNS, crm_kpis
from crm_model.service import TICKET_COLUMNS, CustomerStream, ServiceDesk
from crm_model.stream import OUTCOME_COLUMNS, OrderStream

__all__ = [
    "CRM_KPI_COLUMNS",
    "ORDER_COLUMNS",
    "OUTCOME_COLUMNS",
    "TICKET_COLUMNS",
    "CustomerStream",
    "DemandModel",
    "DemandShock",
    "OrderStream",
    "ServiceDesk",
    "campaign_lift",
    "crm_kpis",
]
