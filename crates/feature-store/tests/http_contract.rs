//! The feature store's HTTP contract, over real sockets: answers, determinism, errors.

use feature_store::{Config, FeatureStore, MAX_VALUES};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn get(store: &FeatureStore, path: &str) -> (u16, serde_json::Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(&format!("http://{}{path}", store.addr()))
        .call()
        .expect("request reaches the store");
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_vec().expect("body");
    (
        status,
        serde_json::from_slice(&body).expect("every answer is JSON"),
    )
}

#[test]
fn features_are_deterministic_and_sized() {
    let store = FeatureStore::spawn(Config::default()).unwrap();
    let (status, first) = get(&store, "/features/7?delay_ms=0&n=5");
    assert_eq!(status, 200);
    assert_eq!(first["id"], 7);
    assert_eq!(first["values"].as_array().unwrap().len(), 5);
    let (_, again) = get(&store, "/features/7?n=5");
    assert_eq!(first, again);
    let (_, other) = get(&store, "/features/8?n=5");
    assert_ne!(first["values"], other["values"]);
    // The JSON carries exactly the library's values, bit for bit.
    let sent: Vec<f64> = serde_json::from_value(first["values"].clone()).unwrap();
    assert_eq!(sent, feature_store::values(7, 5));
}

#[test]
fn delay_is_honoured() {
    let store = FeatureStore::spawn(Config::default()).unwrap();
    let started = Instant::now();
    let (status, _) = get(&store, "/features/1?delay_ms=150&n=1");
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
    let (status, body) = get(&store, "/delay/0.1");
    assert_eq!(status, 200);
    assert!(body["url"].as_str().unwrap().ends_with("/delay/0.1"));
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[test]
fn bad_input_gets_400_or_404_with_a_json_error() {
    let store = FeatureStore::spawn(Config::default()).unwrap();
    let cases = [
        ("/features/abc", 400),
        ("/features/-1", 400),
        ("/features/1?n=0", 400),
        (&*format!("/features/1?n={}", MAX_VALUES + 1), 400),
        ("/features/1?delay_ms=60001", 400),
        ("/features/1?delay_ms=soon", 400),
        ("/delay/61", 400),
        ("/delay/-1", 400),
        ("/delay/NaN", 400),
        ("/nothing/here", 404),
        ("/features", 404),
    ];
    for (path, expected) in cases {
        let (status, body) = get(&store, path);
        assert_eq!(status, expected, "{path}");
        assert!(body["error"].is_string(), "{path}: {body}");
    }
    let (status, body) = get(&store, "/health");
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    // Clients tell a feature store from other servers by this field.
    assert_eq!(
        body["service"].as_str(),
        Some(feature_store::HEALTH_SERVICE)
    );
}

#[test]
fn garbage_on_the_socket_gets_an_error_and_the_store_stays_up() {
    let store = FeatureStore::spawn(Config::default()).unwrap();
    let mut stream = TcpStream::connect(store.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(b"NOT HTTP AT ALL\r\n\r\n").unwrap();
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 400"),
        "{reply}"
    );
    let (status, _) = get(&store, "/health");
    assert_eq!(status, 200);
}

#[test]
fn each_fault_kind_behaves_as_documented() {
    let store = FeatureStore::spawn(Config::default()).unwrap();
    let (status, body) = get(&store, "/features/1?n=4&fault=fail");
    assert_eq!(
        (status, body["error"].as_str()),
        (500, Some("injected failure"))
    );

    // A reset: headers promise the whole body, the connection closes halfway.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = |query: &str| format!("http://{}/features/1?n=64&{query}", store.addr());
    let mut reset = agent.get(&url("fault=reset")).call().unwrap();
    assert_eq!(reset.status(), 200);
    assert!(
        reset.body_mut().read_to_vec().is_err(),
        "a reset body cannot be read whole"
    );

    // Malformed: a complete HTTP answer whose JSON is cut short.
    let mut malformed = agent.get(&url("fault=malformed")).call().unwrap();
    let bytes = malformed.body_mut().read_to_vec().unwrap();
    assert!(serde_json::from_slice::<serde_json::Value>(&bytes).is_err());

    // Slow: the configured extra delay on top of delay_ms.
    let slow_store = FeatureStore::spawn(Config {
        faults: feature_store::Faults {
            slow_ms: 150,
            ..Default::default()
        },
        ..Config::default()
    })
    .unwrap();
    let started = Instant::now();
    let (status, _) = get(&slow_store, "/features/1?n=4&delay_ms=10&fault=slow");
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(160));

    // A stall never answers: the client's timeout is what ends it.
    let mut stream = TcpStream::connect(store.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    stream
        .write_all(b"GET /features/1?fault=stall HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut byte = [0u8; 1];
    let read = stream.read(&mut byte);
    assert!(
        matches!(&read, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
        "a stalled request answered: {read:?}"
    );
    let (status, _) = get(&store, "/features/1?fault=boom");
    assert_eq!(status, 400);
}

#[test]
fn configured_rates_fault_the_same_batches_every_time() {
    let faults = feature_store::Faults {
        seed: 3,
        fail_rate: 0.3,
        ..Default::default()
    };
    let store = FeatureStore::spawn(Config {
        faults,
        ..Config::default()
    })
    .unwrap();
    let statuses = |attempt: u32| -> Vec<u16> {
        (0..40)
            .map(|id| get(&store, &format!("/features/{id}?n=2&attempt={attempt}")).0)
            .collect()
    };
    let first = statuses(0);
    assert_eq!(first, statuses(0));
    assert!(first.contains(&500) && first.contains(&200), "{first:?}");
    let expected: Vec<u16> = (0..40)
        .map(|id| {
            if faults.pick(id, 0) == feature_store::Fault::Fail {
                500
            } else {
                200
            }
        })
        .collect();
    assert_eq!(first, expected);
    assert!(
        FeatureStore::spawn(Config {
            faults: feature_store::Faults {
                fail_rate: 1.5,
                ..Default::default()
            },
            ..Config::default()
        })
        .is_err()
    );
}

#[test]
fn every_listener_of_the_shared_port_is_served() {
    let store = FeatureStore::spawn(Config {
        listeners: 3,
        ..Config::default()
    })
    .unwrap();
    // Each connection goes to one of the three listeners, by the hash of its
    // port; with 30 of them, a listener left without an accept loop would
    // leave some request unanswered (and the read would time out).
    for id in 0..30 {
        let mut stream = TcpStream::connect(store.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET /features/{id}?n=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut reply = String::new();
        stream
            .read_to_string(&mut reply)
            .unwrap_or_else(|err| panic!("connection {id} got no answer: {err}"));
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(reply.contains(&format!("\"id\":{id},")), "{reply}");
    }
}
