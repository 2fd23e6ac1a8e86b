"""Celery tasks of the directory: thin interfaces that take ids and call one service.

`acks_late` because `buyer_register` is idempotent (it looks a contact up before creating it);
transient B2Brouter errors are retried with exponential backoff and jitter, capped well under
the broker's visibility timeout.
"""

from celery import shared_task

import b2brouter
from directory import services
from directory.models import Buyer


@shared_task(
    name="directory.buyer_register",
    acks_late=True,
    autoretry_for=(b2brouter.TransientError,),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=12,
    ignore_result=True,
)
def buyer_register_task(buyer_id: int) -> None:
    buyer = Buyer.objects.select_related("account").filter(pk=buyer_id).first()
    if buyer is None:  # deleted since: nothing to register
        return
    services.buyer_register(buyer=buyer)
