"""Celery tasks of finance: thin interfaces that take ids and call one service each."""

from celery import shared_task

from finance.services import payments
from invoicing.tasks import RETRY


@shared_task(name=payments.REPORT_TASK, **RETRY)
def payment_report_task(invoice_id: int) -> None:
    payments.payment_report(invoice_id=invoice_id)


@shared_task(name="finance.payment_reports_resume", ignore_result=True)
def payment_reports_resume_task() -> None:
    payments.payment_reports_resume()
