"""SIRET lookups spend little of B2Brouter's budget: an answer (a "not found" included) is reused
for a while, a person may ask only so many a minute, and lookups together never take more than
their share of the deployment's rate limit, so that sending is never starved."""

import threading
import time

import pytest
from django.urls import reverse

from b2brouter import B2BrouterClient
from core import gateway
from tests.directory.conftest import make_user

pytestmark = pytest.mark.django_db

LOOKUP = reverse("directory:lookup")
def _valid_sirets(count: int) -> list[str]:
    """`count` valid SIRETs (Luhn) of establishments the directory does not know."""
    from stdnum import luhn

    siren = "40000000"
    siren += luhn.calc_check_digit(siren)
    return [base + luhn.calc_check_digit(base)
            for base in (f"{siren}{nic:04d}" for nic in range(1, count + 1))]


@pytest.fixture
def calls(monkeypatch):
    """The directory calls that reach B2Brouter."""
    made = []
    real = B2BrouterClient.directory_lookup

    def counted(self, *args, **kwargs):
        made.append(args)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(B2BrouterClient, "directory_lookup", counted)
    return made


def test_the_same_unknown_siret_sixty_times_is_one_call(client, account, calls, b2b):
    from core.roles import FINANCE

    client.force_login(make_user(FINANCE, account))
    for _ in range(60):
        response = client.get(LOOKUP, {"siret": _valid_sirets(1)[0]})
        assert response.status_code == 200
        assert "Aucune entité publique" in response.content.decode()
    assert len(calls) == 1


def test_a_person_asking_too_fast_is_told_to_wait_and_spends_no_more(client, account, calls,
                                                                      settings, b2b):
    """A read-only user types SIRET after SIRET: past their lookups a minute, the page says to
    wait, and B2Brouter hears nothing more from them."""
    from core.roles import FINANCE

    settings.DIRECTORY_LOOKUPS_PER_MINUTE = 10
    client.force_login(make_user(FINANCE, account))
    answers = [client.get(LOOKUP, {"siret": siret}).content.decode()
               for siret in _valid_sirets(25)]
    assert len(calls) == 10
    assert all("réessayez dans une minute" in html for html in answers[10:])
    # another person is not held back by the first
    client.force_login(make_user(FINANCE, account))
    client.get(LOOKUP, {"siret": _valid_sirets(26)[-1]})
    assert len(calls) == 11


def test_lookups_take_at_most_their_share_of_the_rate_and_sending_keeps_the_rest(settings,
                                                                                 tmp_path):
    """Threads hammer lookups while one thread sends as fast as it may, for 3 s at 10 calls/s:
    lookups get no more than 20 % (2/s), sending gets the rest."""
    settings.B2BROUTER_RATE_LIMIT = 10
    settings.B2BROUTER_RATE_BURST = 2
    settings.B2BROUTER_LOOKUP_SHARE = 0.2
    settings.B2BROUTER_API_KEY = f"share-test-{time.time_ns()}"  # a limit of its own
    seconds, counts = 3.0, {"lookup": 0, "send": 0}
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def lookups():
        while time.monotonic() < stop:
            if gateway.lookup_turn(max_wait=0.5):
                gateway.rate_limiter().acquire()  # the call itself, as the client does
                if time.monotonic() < stop:
                    with lock:
                        counts["lookup"] += 1

    def sending():
        while time.monotonic() < stop:
            gateway.rate_limiter().acquire()
            if time.monotonic() < stop:
                with lock:
                    counts["send"] += 1

    threads = [threading.Thread(target=lookups) for _ in range(6)] + [
        threading.Thread(target=sending)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counts["lookup"] <= 10 * 0.2 * seconds + 1, counts
    assert counts["lookup"] + counts["send"] <= 10 * seconds + 2, counts
    assert counts["send"] >= 10 * 0.8 * seconds * 0.7, counts
