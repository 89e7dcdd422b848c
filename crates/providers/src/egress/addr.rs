//! The address classifier: which IP addresses an outbound call may reach. Pure and table-driven;
//! IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by the
//! IPv4 address they carry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

/// What kind of address an IP is, as far as egress is concerned. Only [`AddrClass::Public`] may
/// be reached by a tenant-controlled URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrClass {
    /// Globally routable unicast.
    Public,
    /// `0.0.0.0`, `::`: "this host" on most stacks.
    Unspecified,
    /// `0.0.0.0/8` ("this network").
    ThisNetwork,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918 `10/8`, `172.16/12`, `192.168/16`; IPv6 unique local `fc00::/7` and
    /// NAT64 local use `64:ff9b:1::/48`.
    Private,
    /// Carrier-grade NAT `100.64.0.0/10`.
    SharedCgnat,
    /// `169.254.0.0/16` (cloud metadata `169.254.169.254` included), `fe80::/10`.
    LinkLocal,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// IETF protocol assignments `192.0.0.0/24`, `2001::/23`.
    ProtocolAssignment,
    /// `192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15`.
    Benchmarking,
    /// `240.0.0.0/4`, the 6to4 relay anycast `192.88.99/24`, the IPv6 discard prefix `100::/64`,
    /// deprecated site-local `fec0::/10` and any IPv6 outside global unicast `2000::/3`.
    Reserved,
}

impl AddrClass {
    pub fn is_public(self) -> bool {
        self == AddrClass::Public
    }

    /// For messages: "a loopback address".
    pub fn describe(self) -> &'static str {
        match self {
            AddrClass::Public => "a public address",
            AddrClass::Unspecified => "the unspecified address",
            AddrClass::ThisNetwork => "a \"this network\" address",
            AddrClass::Loopback => "a loopback address",
            AddrClass::Private => "a private address",
            AddrClass::SharedCgnat => "a carrier-grade NAT address",
            AddrClass::LinkLocal => "a link-local address",
            AddrClass::Multicast => "a multicast address",
            AddrClass::Broadcast => "the broadcast address",
            AddrClass::ProtocolAssignment => "an IETF protocol address",
            AddrClass::Documentation => "a documentation address",
            AddrClass::Benchmarking => "a benchmarking address",
            AddrClass::Reserved => "a reserved address",
        }
    }
}

/// The IPv4 ranges that are not public, most specific first.
const V4_RANGES: &[(Ipv4Net, AddrClass)] = &[
    (v4(0, 0, 0, 0, 32), AddrClass::Unspecified),
    (v4(255, 255, 255, 255, 32), AddrClass::Broadcast),
    (v4(0, 0, 0, 0, 8), AddrClass::ThisNetwork),
    (v4(10, 0, 0, 0, 8), AddrClass::Private),
    (v4(100, 64, 0, 0, 10), AddrClass::SharedCgnat),
    (v4(127, 0, 0, 0, 8), AddrClass::Loopback),
    (v4(169, 254, 0, 0, 16), AddrClass::LinkLocal),
    (v4(172, 16, 0, 0, 12), AddrClass::Private),
    (v4(192, 0, 0, 0, 24), AddrClass::ProtocolAssignment),
    (v4(192, 0, 2, 0, 24), AddrClass::Documentation),
    (v4(192, 88, 99, 0, 24), AddrClass::Reserved),
    (v4(192, 168, 0, 0, 16), AddrClass::Private),
    (v4(198, 18, 0, 0, 15), AddrClass::Benchmarking),
    (v4(198, 51, 100, 0, 24), AddrClass::Documentation),
    (v4(203, 0, 113, 0, 24), AddrClass::Documentation),
    (v4(224, 0, 0, 0, 4), AddrClass::Multicast),
    (v4(240, 0, 0, 0, 4), AddrClass::Reserved),
];

/// IPv6 ranges judged by the IPv4 address in their last 32 bits.
const V6_EMBEDDING_LAST_32: &[Ipv6Net] = &[
    // IPv4-mapped ::ffff:a.b.c.d
    v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96),
    // IPv4-translated (SIIT) ::ffff:0:a.b.c.d
    v6([0, 0, 0, 0, 0xffff, 0, 0, 0], 96),
    // NAT64 well-known prefix 64:ff9b::a.b.c.d
    v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96),
    // IPv4-compatible ::a.b.c.d (deprecated; `::` and `::1` are matched before this)
    v6([0, 0, 0, 0, 0, 0, 0, 0], 96),
];

/// 6to4 `2002:AABB:CCDD::/48` carries `AA.BB.CC.DD` in bits 16..48.
const V6_6TO4: Ipv6Net = v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16);

/// The IPv6 ranges that are not public (besides embedded IPv4), most specific first.
const V6_RANGES: &[(Ipv6Net, AddrClass)] = &[
    (v6([0, 0, 0, 0, 0, 0, 0, 0], 128), AddrClass::Unspecified),
    (v6([0, 0, 0, 0, 0, 0, 0, 1], 128), AddrClass::Loopback),
    (v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48), AddrClass::Private),
    (v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64), AddrClass::Reserved),
    (
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        AddrClass::Documentation,
    ),
    (
        v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),
        AddrClass::ProtocolAssignment,
    ),
    (
        v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
        AddrClass::Documentation,
    ),
    (v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), AddrClass::Private),
    (v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), AddrClass::LinkLocal),
    (v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), AddrClass::Reserved),
    (v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), AddrClass::Multicast),
];

/// Global unicast: IPv6 outside it is reserved.
const V6_GLOBAL_UNICAST: Ipv6Net = v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

const fn v6(s: [u16; 8], prefix: u8) -> Ipv6Net {
    Ipv6Net::new_assert(
        Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
        prefix,
    )
}

/// The class of `ip`.
pub fn classify(ip: IpAddr) -> AddrClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Whether a tenant-controlled URL may reach `ip`.
pub fn is_public(ip: IpAddr) -> bool {
    classify(ip).is_public()
}

pub fn classify_v4(ip: Ipv4Addr) -> AddrClass {
    V4_RANGES
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map_or(AddrClass::Public, |(_, class)| *class)
}

pub fn classify_v6(ip: Ipv6Addr) -> AddrClass {
    // `::` and `::1` first: they sit inside the IPv4-compatible range.
    if let Some((_, class)) = V6_RANGES[..2].iter().find(|(net, _)| net.contains(&ip)) {
        return *class;
    }
    let bits = u128::from(ip);
    if V6_EMBEDDING_LAST_32.iter().any(|net| net.contains(&ip)) {
        return classify_v4(Ipv4Addr::from(bits as u32));
    }
    if V6_6TO4.contains(&ip) {
        return classify_v4(Ipv4Addr::from((bits >> 80) as u32));
    }
    if let Some((_, class)) = V6_RANGES.iter().find(|(net, _)| net.contains(&ip)) {
        return *class;
    }
    if V6_GLOBAL_UNICAST.contains(&ip) {
        AddrClass::Public
    } else {
        AddrClass::Reserved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn class(s: &str) -> AddrClass {
        classify(s.parse().unwrap_or_else(|e| panic!("{s}: {e}")))
    }

    #[test]
    fn ipv4_ranges_are_classified() {
        use AddrClass::*;
        let table = [
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", ThisNetwork),
            ("10.0.0.1", Private),
            ("10.255.255.255", Private),
            ("100.63.255.255", Public),
            ("100.64.0.1", SharedCgnat),
            ("100.127.255.255", SharedCgnat),
            ("100.128.0.0", Public),
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("169.254.169.254", LinkLocal),
            ("169.254.0.1", LinkLocal),
            ("172.15.255.255", Public),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("172.32.0.0", Public),
            ("192.0.0.8", ProtocolAssignment),
            ("192.0.2.10", Documentation),
            ("192.88.99.1", Reserved),
            ("192.168.1.1", Private),
            ("198.18.0.1", Benchmarking),
            ("198.19.255.255", Benchmarking),
            ("198.20.0.0", Public),
            ("198.51.100.7", Documentation),
            ("203.0.113.9", Documentation),
            ("224.0.0.251", Multicast),
            ("239.255.255.250", Multicast),
            ("240.0.0.1", Reserved),
            ("255.255.255.254", Reserved),
            ("255.255.255.255", Broadcast),
            ("1.1.1.1", Public),
            ("8.8.8.8", Public),
            ("93.184.215.14", Public),
            ("192.0.3.1", Public),
            ("223.255.255.255", Public),
        ];
        for (ip, want) in table {
            assert_eq!(class(ip), want, "{ip}");
        }
    }

    #[test]
    fn ipv6_ranges_are_classified() {
        use AddrClass::*;
        let table = [
            ("::", Unspecified),
            ("::1", Loopback),
            ("fc00::1", Private),
            ("fd00:ec2::254", Private),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("fec0::1", Reserved),
            ("ff02::1", Multicast),
            ("100::1", Reserved),
            ("2001:db8::1", Documentation),
            ("3fff::1", Documentation),
            ("2001::1", ProtocolAssignment),
            ("64:ff9b:1::a", Private),
            ("4000::1", Reserved),
            ("::2:0:0:1", Reserved),
            ("2606:4700:4700::1111", Public),
            ("2001:4860:4860::8888", Public),
            ("2a00:1450::1", Public),
        ];
        for (ip, want) in table {
            assert_eq!(class(ip), want, "{ip}");
        }
    }

    #[test]
    fn ipv6_forms_embedding_ipv4_are_judged_by_the_ipv4() {
        use AddrClass::*;
        let table = [
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:7f00:1", Loopback),
            ("::ffff:169.254.169.254", LinkLocal),
            ("::ffff:10.1.2.3", Private),
            ("::ffff:0.0.0.0", Unspecified),
            ("::ffff:8.8.8.8", Public),
            ("::ffff:0:127.0.0.1", Loopback),
            ("::127.0.0.1", Loopback),
            ("::10.0.0.1", Private),
            ("::8.8.8.8", Public),
            ("64:ff9b::127.0.0.1", Loopback),
            ("64:ff9b::a9fe:a9fe", LinkLocal),
            ("64:ff9b::8.8.8.8", Public),
            // 6to4: 2002:AABB:CCDD:: carries AA.BB.CC.DD.
            ("2002:7f00:1::", Loopback),
            ("2002:c0a8:101::1", Private),
            ("2002:a9fe:a9fe::", LinkLocal),
            ("2002:808:808::1", Public),
        ];
        for (ip, want) in table {
            assert_eq!(class(ip), want, "{ip}");
        }
    }

    proptest! {
        /// An IPv4 address and its IPv4-mapped IPv6 form are always the same class.
        #[test]
        fn mapped_ipv6_is_classified_like_its_ipv4(bits: u32) {
            let v4 = Ipv4Addr::from(bits);
            prop_assert_eq!(classify(IpAddr::V6(v4.to_ipv6_mapped())), classify_v4(v4));
            let nat64 = Ipv6Addr::from((0x0064_ff9b_u128 << 96) | u128::from(bits));
            prop_assert_eq!(classify_v6(nat64), classify_v4(v4));
        }

        /// Everything std already knows to be non-public is non-public here too.
        #[test]
        fn std_special_addresses_are_never_public(bits: u32, bits6: u128) {
            let v4 = Ipv4Addr::from(bits);
            if v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.is_broadcast()
                || v4.is_documentation() || v4.is_unspecified() || v4.is_multicast()
            {
                prop_assert!(!is_public(IpAddr::V4(v4)), "{}", v4);
            }
            let v6 = Ipv6Addr::from(bits6);
            if v6.is_loopback() || v6.is_unspecified() || v6.is_multicast()
                || v6.is_unique_local() || v6.is_unicast_link_local()
            {
                prop_assert!(!is_public(IpAddr::V6(v6)), "{}", v6);
            }
        }

        /// Any 10.x.y.z, 127.x.y.z or 169.254.x.y is refused, however the rest is chosen.
        #[test]
        fn whole_private_blocks_are_refused(b: u8, c: u8, d: u8) {
            prop_assert_eq!(classify_v4(Ipv4Addr::new(10, b, c, d)), AddrClass::Private);
            prop_assert_eq!(classify_v4(Ipv4Addr::new(127, b, c, d)), AddrClass::Loopback);
            prop_assert_eq!(classify_v4(Ipv4Addr::new(169, 254, c, d)), AddrClass::LinkLocal);
        }
    }
}
