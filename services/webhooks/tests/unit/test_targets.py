import ipaddress

import pytest

from webhooks.domain.targets import (
    TargetRefused,
    check_addresses,
    parse_networks,
    parse_target,
    receiver_of,
    scrub_url,
    without_query,
)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.com/x", "url_scheme_not_allowed"),
        ("file:///etc/passwd", "url_scheme_not_allowed"),
        ("gopher://example.com", "url_scheme_not_allowed"),
        ("http://user:pw@example.com/", "invalid_url"),
        ("http:///nohost", "invalid_url"),
        ("http://example.com:99999/", "invalid_url"),
        ("https://example.com/" + "a" * 2100, "invalid_url"),
    ],
)
def test_bad_urls(url, code):
    with pytest.raises(TargetRefused) as err:
        parse_target(url)
    assert err.value.code == code


def test_parse_target_defaults():
    t = parse_target("HTTPS://Gov.Example.cn/hooks?x=1")
    assert (t.scheme, t.host, t.port, t.path_and_query) == ("https", "gov.example.cn", 443, "/hooks?x=1")
    assert parse_target("http://[::1]:8080").port == 8080


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "0.0.0.0",
        "224.0.0.1",
        "100.64.0.1",  # carrier-grade NAT
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:169.254.169.254",
    ],
)
def test_non_public_addresses_refused(address):
    with pytest.raises(TargetRefused) as err:
        check_addresses([address], allow_private=False, allowed_networks=[])
    assert err.value.code == "target_not_allowed"


def test_public_addresses_pass_and_one_bad_address_refuses_all():
    assert check_addresses(["93.184.216.34", "2606:2800:220:1::1"], allow_private=False, allowed_networks=[]) == [
        ipaddress.ip_address("93.184.216.34"),
        ipaddress.ip_address("2606:2800:220:1::1"),
    ]
    with pytest.raises(TargetRefused):
        check_addresses(["93.184.216.34", "10.0.0.1"], allow_private=False, allowed_networks=[])


def test_allowlist_and_allow_private():
    loopback = parse_networks(["127.0.0.0/8"])
    assert check_addresses(["127.0.0.1"], allow_private=False, allowed_networks=loopback)
    assert check_addresses(["::ffff:127.0.0.1"], allow_private=False, allowed_networks=loopback)
    with pytest.raises(TargetRefused):
        check_addresses(["10.0.0.1"], allow_private=False, allowed_networks=loopback)
    assert check_addresses(["10.0.0.1"], allow_private=True, allowed_networks=[])


def test_unresolvable():
    with pytest.raises(TargetRefused) as err:
        check_addresses([], allow_private=True, allowed_networks=[])
    assert err.value.code == "target_unresolvable"


@pytest.mark.parametrize(
    ("url", "receiver"),
    [
        ("https://gov.example.cn/hooks/renovation?token=s3cr3t", "https://gov.example.cn"),
        ("http://127.0.0.1:8080/a/b?x=1#frag", "http://127.0.0.1:8080"),
        ("HTTPS://Gov.Example.cn:8443/t0ken-in-path", "https://gov.example.cn:8443"),
        ("http://[::1]:9000/x?token=1", "http://[::1]:9000"),
        ("http://example.com:99999/x", "invalid-url"),
    ],
)
def test_a_receiver_is_named_by_scheme_host_and_port_only(url, receiver):
    assert receiver_of(url) == receiver


def test_attempts_keep_the_url_without_its_query_string():
    assert without_query("https://gov.example.cn/hooks/r?token=s3cr3t&v=1#x") == "https://gov.example.cn/hooks/r"
    assert without_query("http://127.0.0.1:8080/") == "http://127.0.0.1:8080/"


def test_errors_quoting_the_url_are_scrubbed_of_its_path_and_query():
    url = "https://gov.example.cn/hooks/r?token=s3cr3t"
    pinned = "https://93.184.216.34:443/hooks/r?token=s3cr3t"
    message = f"ReadError for url '{pinned}' (original {url}; token=s3cr3t)"
    scrubbed = scrub_url(scrub_url(message, pinned), url)
    assert "s3cr3t" not in scrubbed and "/hooks/r" not in scrubbed
    assert scrub_url("All connection attempts failed", url) == "All connection attempts failed"
