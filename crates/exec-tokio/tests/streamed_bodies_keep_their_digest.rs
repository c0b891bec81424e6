//! A feature-store body far bigger than one read is decoded as it arrives,
//! on the async path (hyper, here on tokio) and on the blocking path (ureq),
//! to the digest that the whole buffered body gives.

use exec_tokio::TokioConnect;
use feature_store::{Config, FeatureStore};
use pipeline::{AsyncFetcher, BlockingFetcher, Connections, Payload, Upstream, Workload};

/// About 160 KB of JSON a body: many socket reads, many hyper frames.
const FEATURES: u32 = 8192;

#[test]
fn a_multi_chunk_body_decodes_to_the_buffered_digest() {
    let store = FeatureStore::spawn(Config::default()).expect("the store starts");
    let upstream = Upstream::parse(&format!("http://{}", store.addr())).expect("a store url");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    for connections in [Connections::Fresh, Connections::Pooled] {
        let workload = Workload::new(upstream.clone())
            .batches(3)
            .io_ms(0)
            .features(FEATURES)
            .connections(connections);
        let blocking = BlockingFetcher::new(&workload);
        let hyper = AsyncFetcher::new(TokioConnect, &workload);
        for id in workload.batch_ids() {
            // The buffered body, decoded whole by the kernel: the digest as it was.
            let body = blocking.fetch(id).expect("a buffered body");
            let expected = pipeline::process(&workload, id, &body).expect("it decodes");
            let streamed = [
                blocking.fetch_timed(id).expect("a blocking fetch"),
                runtime
                    .block_on(hyper.fetch_timed(id))
                    .expect("an async fetch"),
            ];
            for fetched in streamed {
                match &fetched.body {
                    Payload::Values(values) => assert_eq!(values.len(), FEATURES as usize),
                    Payload::Body(_) => panic!("a plain store body was buffered"),
                }
                let processed =
                    pipeline::process_fetched(&workload, id, &fetched).expect("it processes");
                assert_eq!(
                    processed.digest, expected.digest,
                    "batch {id}, {connections:?}"
                );
            }
        }
    }
}
