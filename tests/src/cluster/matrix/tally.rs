//! What CoreDNS itself counted over a run (`coredns_dns_requests_total`, summed over its
//! series), followed across its pods: a rollout replaces them, and a new pod counts from
//! zero. Each pod is read every half second; a pod that goes counts up to its last read, so
//! at most its last half second of requests is missed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::super::metrics::sum;
use super::super::Kube;

pub struct Tally {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<f64>,
    started: Instant,
}

/// One read of every Running CoreDNS pod: IP → its counter.
fn read(k: &Kube) -> BTreeMap<String, f64> {
    k.coredns_ips()
        .into_iter()
        .filter_map(|ip| {
            let addr: std::net::SocketAddr = format!("{ip}:9153").parse().ok()?;
            let (status, body) = crate::http_get(addr, "/metrics");
            (status == 200).then(|| (ip, sum(&body, "coredns_dns_requests_total")))
        })
        .collect()
}

impl Tally {
    pub fn start(k: &Kube) -> Tally {
        let first = read(k);
        let stop = Arc::new(AtomicBool::new(false));
        let (k2, stop2) = (k.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            // Per pod: (value at its first read, value at its last read).
            let mut seen: BTreeMap<String, (f64, f64)> =
                first.iter().map(|(ip, v)| (ip.clone(), (*v, *v))).collect();
            loop {
                let done = stop2.load(Relaxed);
                for (ip, v) in read(&k2) {
                    // A pod first read now started within the run: it counted from zero.
                    let e = seen.entry(ip).or_insert((0.0, 0.0));
                    e.1 = v.max(e.1);
                }
                if done {
                    break;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            seen.values().map(|(a, b)| b - a).sum()
        });
        Tally {
            stop,
            thread,
            started: Instant::now(),
        }
    }

    /// Stops; (requests CoreDNS counted, seconds it was counted over).
    pub fn stop(self) -> (f64, f64) {
        let secs = self.started.elapsed().as_secs_f64();
        self.stop.store(true, Relaxed);
        (self.thread.join().expect("the CoreDNS tally"), secs)
    }
}
