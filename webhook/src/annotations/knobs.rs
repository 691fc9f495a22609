//! The annotation table: each knob's key, what it sets (a proxy flag or a pod field) and
//! the values it takes.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Count {
        min: u64,
        max: u64,
    },
    Duration {
        min: Duration,
        max: Duration,
    },
    Hedge,
    /// A percentage, 0% to 100% (`--retry-budget`).
    Percent,
    /// A rate per second, 0 to 1000 (`--retry-min-per-second`).
    Rate,
    /// A flag that takes true/false (`--prefetch=false`).
    Bool,
    /// A flag present or absent (`--upstream-tcp`).
    Switch,
    Quantity,
    Image,
    PullPolicy,
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// `none`, `daemonset`, `cluster-dns` or an address (`node_cache::NodeCache`).
    NodeCache,
}

/// What an annotation sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sets {
    /// A proxy flag.
    Flag(&'static str),
    /// A field of the pod or of the sidecar container.
    Pod(PodField),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PodField {
    Ndots,
    Cpu,
    Memory,
    Image,
    PullPolicy,
    Fallback,
    NodeCache,
    IstioGroup,
    Ambient,
    LinkerdSkipPort,
    TtlStrict,
}

impl Sets {
    /// For README's table: the flag, or the field it sets.
    pub(super) fn describe(self) -> &'static str {
        match self {
            Sets::Flag(f) => f,
            Sets::Pod(PodField::Ndots) => "the pod's dnsConfig ndots",
            Sets::Pod(PodField::Cpu) => "the sidecar's CPU request",
            Sets::Pod(PodField::Memory) => "the sidecar's memory request and limit",
            Sets::Pod(PodField::Image) => "the sidecar's image",
            Sets::Pod(PodField::PullPolicy) => "the sidecar's imagePullPolicy",
            Sets::Pod(PodField::Fallback) => {
                "whether the pod's resolv.conf lists the cluster DNS after the sidecar"
            }
            Sets::Pod(PodField::NodeCache) => "the sidecar's first tier (`--node-cache`)",
            Sets::Pod(PodField::IstioGroup) => {
                "whether the sidecar runs in the istio-proxy group, beside Istio's sidecar"
            }
            Sets::Pod(PodField::Ambient) => {
                "whether the sidecar treats Istio ambient's DNS capture as one logical upstream"
            }
            Sets::Pod(PodField::LinkerdSkipPort) => {
                "whether port 53 joins the outbound ports Linkerd's proxy-init skips"
            }
            Sets::Pod(PodField::TtlStrict) => "`--ttl-strict` (for Cilium FQDN policy)",
        }
    }
}

/// One knob: annotation suffix, what it sets, and the values it takes.
pub(super) struct Knob {
    pub(super) key: &'static str,
    pub(super) sets: Sets,
    pub(super) kind: Kind,
}

pub(super) const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
pub(super) const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(super) const KNOBS: &[Knob] = &[
    Knob {
        key: "cache-size",
        sets: Sets::Flag("--cache-size"),
        kind: Kind::Count {
            min: 1,
            max: 1_000_000,
        },
    },
    Knob {
        key: "min-ttl",
        sets: Sets::Flag("--min-ttl"),
        kind: Kind::Duration {
            min: secs(0),
            max: secs(3600),
        },
    },
    Knob {
        key: "max-ttl",
        sets: Sets::Flag("--max-ttl"),
        kind: Kind::Duration {
            min: secs(1),
            max: secs(86400),
        },
    },
    Knob {
        key: "negative-ttl",
        sets: Sets::Flag("--negative-ttl"),
        kind: Kind::Duration {
            min: secs(0),
            max: secs(3600),
        },
    },
    Knob {
        key: "stale-max",
        sets: Sets::Flag("--stale-max"),
        kind: Kind::Duration {
            min: secs(0),
            max: secs(7 * 86400),
        },
    },
    Knob {
        key: "prefetch",
        sets: Sets::Flag("--prefetch"),
        kind: Kind::Bool,
    },
    Knob {
        key: "upstream-timeout",
        sets: Sets::Flag("--upstream-timeout"),
        kind: Kind::Duration {
            min: ms(10),
            max: secs(5),
        },
    },
    Knob {
        key: "query-timeout",
        sets: Sets::Flag("--query-timeout"),
        kind: Kind::Duration {
            min: ms(100),
            max: ms(4500),
        },
    },
    Knob {
        key: "hedge-delay",
        sets: Sets::Flag("--hedge-delay"),
        kind: Kind::Hedge,
    },
    Knob {
        key: "retry-budget",
        sets: Sets::Flag("--retry-budget"),
        kind: Kind::Percent,
    },
    Knob {
        key: "retry-min-per-second",
        sets: Sets::Flag("--retry-min-per-second"),
        kind: Kind::Rate,
    },
    Knob {
        key: "upstream-tcp",
        sets: Sets::Flag("--upstream-tcp"),
        kind: Kind::Switch,
    },
    Knob {
        key: "log-queries",
        sets: Sets::Flag("--log-queries"),
        kind: Kind::Switch,
    },
    Knob {
        key: "debug-names",
        sets: Sets::Flag("--debug-names"),
        kind: Kind::Bool,
    },
    Knob {
        key: "ndots",
        sets: Sets::Pod(PodField::Ndots),
        kind: Kind::Count { min: 1, max: 15 },
    },
    Knob {
        key: "cpu",
        sets: Sets::Pod(PodField::Cpu),
        kind: Kind::Quantity,
    },
    Knob {
        key: "memory",
        sets: Sets::Pod(PodField::Memory),
        kind: Kind::Quantity,
    },
    Knob {
        key: "image",
        sets: Sets::Pod(PodField::Image),
        kind: Kind::Image,
    },
    Knob {
        key: "fallback",
        sets: Sets::Pod(PodField::Fallback),
        kind: Kind::OneOf(&["cluster-dns", "none"]),
    },
    Knob {
        key: "node-cache",
        sets: Sets::Pod(PodField::NodeCache),
        kind: Kind::NodeCache,
    },
    Knob {
        key: "istio-group",
        sets: Sets::Pod(PodField::IstioGroup),
        kind: Kind::OneOf(&["auto", "off"]),
    },
    Knob {
        key: "ambient",
        sets: Sets::Pod(PodField::Ambient),
        kind: Kind::OneOf(&["auto", "off"]),
    },
    Knob {
        key: "linkerd-skip-port",
        sets: Sets::Pod(PodField::LinkerdSkipPort),
        kind: Kind::OneOf(&["auto", "off"]),
    },
    Knob {
        key: "ttl-strict",
        sets: Sets::Pod(PodField::TtlStrict),
        kind: Kind::Bool,
    },
    Knob {
        key: "autopath",
        sets: Sets::Flag("--autopath"),
        kind: Kind::OneOf(&["off", "prefetch", "nxdomain", "cname"]),
    },
    Knob {
        key: "pull-policy",
        sets: Sets::Pod(PodField::PullPolicy),
        kind: Kind::PullPolicy,
    },
];
