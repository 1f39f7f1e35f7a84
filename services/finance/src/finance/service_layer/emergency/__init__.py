"""Emergency repair fund use cases (危急维修资金), one module per responsibility: ``repairs`` (request, read, list),
``decisions`` (approve with the 80/20 split and its reservations and dues, pay, cancel or reject), ``statistics``
(the Jiaxing form by period, the paid-repairs report), ``fund`` (deposits and public income)."""

from finance.service_layer.emergency.decisions import Approve, RepairClosed, RepairPaid, approve, cancel, pay
from finance.service_layer.emergency.fund import Posted, deposit, receive_public_income
from finance.service_layer.emergency.repairs import (
    CommunityUnknown,
    RepairRequest,
    RepairView,
    RequestRecorded,
    RequestRepair,
    get_repair,
    list_repairs,
    origin_of,
    record_request,
    request_repair,
)
from finance.service_layer.emergency.statistics import (
    Amounts,
    DistrictStats,
    FundReport,
    FundStats,
    PeriodStats,
    report,
    stats,
)

__all__ = [
    "Amounts",
    "Approve",
    "CommunityUnknown",
    "DistrictStats",
    "FundReport",
    "FundStats",
    "PeriodStats",
    "Posted",
    "RepairClosed",
    "RepairPaid",
    "RepairRequest",
    "RepairView",
    "RequestRecorded",
    "RequestRepair",
    "approve",
    "cancel",
    "deposit",
    "get_repair",
    "list_repairs",
    "origin_of",
    "pay",
    "receive_public_income",
    "record_request",
    "report",
    "request_repair",
    "stats",
]
