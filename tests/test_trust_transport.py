"""How the agent reaches the server: TLS with a pinned CA, a forward proxy, the plain-HTTP policy."""

from __future__ import annotations

import pytest

from agent.certs.enroll import enrol
from agent.certs.errors import TrustError
from agent.certs.store import CertStore
from agent.certs.transport import check_server_url
from agent.outbox import Outbox
from agent.upload import deliver
from server_stub.api.app import Limits
from test_trust_ingest import reading
from trust_peers import ForwardProxy, start_site, stop_site


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:8443",
                                 "http://127.3.4.5", "https://printers.example.com"])
def test_urls_allowed(url):
    assert check_server_url(url + "/", allow_http=False) == url


@pytest.mark.parametrize("url", ["http://10.0.0.5:8443", "http://fleet.example.com", "ftp://x", "printers"])
def test_plain_http_to_the_network_is_refused(url):
    with pytest.raises(TrustError) as refused:
        check_server_url(url, allow_http=False)
    assert refused.value.exit_code == 2


def test_allow_http_lifts_the_refusal():
    assert check_server_url("http://fleet.example.com", allow_http=True) == "http://fleet.example.com"


@pytest.fixture(scope="module")
def tls_site(tmp_path_factory):
    site = start_site("sqlite", tmp_path_factory.mktemp("tls"), Limits(), tls=True)
    yield site
    stop_site(site)


def test_tls_with_pinned_ca(tls_site, tmp_path):
    store = CertStore(tmp_path / "certs")
    with pytest.raises(TrustError, match="TLS verification") as failed:
        enrol(store, tls_site.url, tls_site.new_key().key)
    assert failed.value.exit_code == 2 and store.enrolment() is None
    enrol(store, tls_site.url, tls_site.new_key().key, ca_file=tls_site.paths.ca_dir / "ca.pem")
    outbox = Outbox(tmp_path / "outbox.db")
    outbox.put(reading("TLS-1"))
    result = deliver(store, outbox)  # the pinned anchor is used without being named again
    assert result.ok and result.stored == 1


def test_proxy_carries_enrolment_and_uploads(tmp_path):
    site = start_site("sqlite", tmp_path / "plain", Limits())
    proxy = ForwardProxy()
    try:
        store = CertStore(tmp_path / "certs")
        enrol(store, site.url, site.new_key().key, proxy=proxy.url)
        outbox = Outbox(tmp_path / "outbox.db")
        outbox.put(reading("PROXY-1"))
        assert deliver(store, outbox).stored == 1
        assert proxy.requests == [f"POST {site.url}/v1/enroll", f"POST {site.url}/v1/ingest"]
    finally:
        proxy.stop()
        stop_site(site)


def test_unreachable_server_keeps_readings(tmp_path, tls_site):
    store = CertStore(tmp_path / "certs")
    enrol(store, tls_site.url, tls_site.new_key().key, ca_file=tls_site.paths.ca_dir / "ca.pem")
    enrolment = store.enrolment()
    enrolment.server = "https://127.0.0.1:9"  # nothing listens there
    store.save_enrolment(enrolment)
    outbox = Outbox(tmp_path / "outbox.db")
    outbox.put(reading("DOWN-1"))
    result = deliver(store, outbox)
    assert (result.ok, result.status, result.queued) == (False, None, 1)
    assert "cannot reach server" in result.message
