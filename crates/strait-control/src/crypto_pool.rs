//! Threads that compute IKE key exchanges ([`ike_proto::CryptoJob`]) off the control
//! plane's event loop, so a flood of IKE_SA_INIT requests or a burst of new sessions does
//! not delay timers, retransmissions and rekeys of established SAs.
//!
//! The endpoint bounds the jobs in flight ([`ike_proto::EndpointConfig::crypto_jobs_max`]),
//! so the channels here stay bounded without dropping anything themselves.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use ike_proto::{CryptoDone, CryptoJob};

/// A fixed set of worker threads.
pub struct CryptoPool {
    jobs: mpsc::Sender<CryptoJob>,
}

impl CryptoPool {
    /// Start `threads` workers (at least one); results go to `results`.
    pub fn start(
        threads: usize,
        results: tokio::sync::mpsc::UnboundedSender<CryptoDone>,
    ) -> std::io::Result<CryptoPool> {
        let (jobs, rx) = mpsc::channel::<CryptoJob>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let results = results.clone();
            std::thread::Builder::new()
                .name(format!("ike-crypto-{i}"))
                .spawn(move || loop {
                    // One worker waits on the channel at a time; the others wait for the lock.
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return }; // the control plane ended
                    if results.send(job.run()).is_err() {
                        return;
                    }
                })?;
        }
        Ok(CryptoPool { jobs })
    }

    /// Hand a job to the workers.
    pub fn submit(&self, job: CryptoJob) {
        // Fails only when every worker has ended, i.e. the control plane is shutting down.
        let _ = self.jobs.send(job);
    }
}
