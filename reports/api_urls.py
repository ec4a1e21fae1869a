"""Report endpoints under /api/v1/reports/ (API.md "Reports")."""

from __future__ import annotations

from django.urls import path

from reports import api

urlpatterns = [
    path("discrepancy/", api.DiscrepancyReportView.as_view(), name="report-discrepancy"),
    path("cash-payments/", api.CashPaymentsReportView.as_view(), name="report-cash-payments"),
    path("discrepancy.csv", api.DiscrepancyCSVView.as_view(), name="report-discrepancy-csv"),
    path("cash-payments.csv", api.CashPaymentsCSVView.as_view(), name="report-cash-payments-csv"),
    path("sessions.csv", api.SessionsCSVView.as_view(), name="report-sessions-csv"),
    path("journal.csv", api.JournalCSVView.as_view(), name="report-journal-csv"),
    path("corrections.csv", api.CorrectionsCSVView.as_view(), name="report-corrections-csv"),
]
