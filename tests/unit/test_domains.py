"""The organizational domain, looked up in the list's Unicode rules, answers as the list parsed with a
punycode copy of every rule would (publicsuffixlist's default, the oracle)."""

from __future__ import annotations

import pytest
from publicsuffixlist import PublicSuffixList

from maildoctor.dnsauth.domains import organizational_domain

NAMES = [
    "mail.example.co.uk", "example.com", "com", "a.b.c.github.io",
    "a.b.xn--fiqs8s",  # 中国: an IDN top-level domain
    "x.y.xn--55qx5d.cn",  # 公司.cn: a two-label IDN public suffix
    "mail.xn--bcher-kva.example", "foo.xn--p1ai", "sub.xn--80ao21a", "xn--zz-broken.example.com",
]  # fmt: skip


@pytest.fixture(scope="module")
def oracle() -> PublicSuffixList:
    return PublicSuffixList()


@pytest.mark.parametrize("name", NAMES)
def test_punycode_names_get_the_organizational_domain_of_the_full_list(name: str, oracle) -> None:
    assert organizational_domain(name) == (oracle.privatesuffix(name) or name)
