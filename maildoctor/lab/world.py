"""The rest of the internet, as far as the lab's mail world needs it: records that real providers
publish (SES's own SPF record), served beside every scenario's zone so that includes resolve."""

from __future__ import annotations

WORLD_ZONE = """\
$ORIGIN amazonses.com.
$TTL 300
@ IN TXT "v=spf1 ip4:199.255.192.0/22 ip4:199.127.232.0/22 ip4:54.240.0.0/18 ip4:69.169.224.0/20 " "ip4:23.249.208.0/20 ip4:23.251.224.0/19 ip4:76.223.176.0/20 ip4:54.240.64.0/19 ip4:54.240.96.0/19 " "ip4:76.223.128.0/19 ip4:216.221.160.0/19 ip4:206.55.144.0/20 -all"
$ORIGIN google.com.
_spf IN TXT "v=spf1 include:_netblocks.google.com include:_netblocks2.google.com include:_netblocks3.google.com ~all"
_netblocks IN TXT "v=spf1 ip4:35.190.247.0/24 ip4:64.233.160.0/19 ip4:66.102.0.0/20 ip4:66.249.80.0/20 ~all"
_netblocks2 IN TXT "v=spf1 ip6:2001:4860:4000::/36 ip6:2404:6800:4000::/36 ~all"
_netblocks3 IN TXT "v=spf1 ip4:172.217.0.0/19 ip4:172.217.32.0/20 ~all"
"""


def with_world(zone_text: str) -> str:
    """A scenario's zone plus the world's records (the world goes last: a zone's $ORIGIN stays first)."""
    return zone_text.rstrip("\n") + "\n" + WORLD_ZONE
