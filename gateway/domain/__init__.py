"""Canonical domain: records, periods and the working-day calendar. Imports nothing else of the gateway."""

from gateway.domain.calendar import WIB, WorkingDayCalendar
from gateway.domain.models import (
    NIP,
    Activity,
    Approval,
    Attendance,
    BankAccount,
    Employee,
    Evidence,
    EvidenceCheck,
    ExplanationLine,
    Indicator,
    PeriodData,
    Position,
    Problem,
    Programme,
    Result,
    ResultStatus,
    TteConclusion,
    Unit,
)
from gateway.domain.period import Period

__all__ = [
    "NIP",
    "WIB",
    "Activity",
    "Approval",
    "Attendance",
    "BankAccount",
    "Employee",
    "Evidence",
    "EvidenceCheck",
    "ExplanationLine",
    "Indicator",
    "Period",
    "PeriodData",
    "Position",
    "Problem",
    "Programme",
    "Result",
    "ResultStatus",
    "TteConclusion",
    "Unit",
    "WorkingDayCalendar",
]
