//! SIGTERM stops a wait: a test binary of its own, because it sends the signal to its own
//! process and installs handlers for the whole process.

use std::process::Command;
use std::time::{Duration, Instant};

use stepkit::core::error::{exit_code, kind_of, Kind};
use stepkit::core::poll::{poll_until, Cancel, Poll, PollOptions};

#[tokio::test]
async fn sigterm_stops_a_wait_with_exit_code_4_long_before_its_deadline() {
    let cancel = Cancel::on_termination_signals();
    let timeout = Duration::from_secs(60);
    let options = PollOptions::new(
        "a Prow job that never ends",
        Duration::from_secs(1),
        timeout,
    );

    let pid = std::process::id().to_string();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        Command::new("kill").args(["-TERM", &pid]).status()
    });
    let started = Instant::now();

    let error = poll_until(&options, &cancel, || async {
        Ok(Poll::<()>::Pending("state PENDING".to_owned()))
    })
    .await
    .expect_err("stopped by the signal");

    let elapsed = started.elapsed();
    let kill = sender
        .join()
        .expect("the signal thread ran")
        .expect("`kill` runs (it is in procps / util-linux: apt-get install procps)");
    assert!(kill.success(), "kill -TERM failed: {kill}");
    assert_eq!(cancel.reason().as_deref(), Some("SIGTERM"));
    assert_eq!(kind_of(&error), Some(Kind::Deadline));
    assert_eq!(exit_code(&error), 4);
    let message = error.to_string();
    assert!(message.contains("SIGTERM"), "{message}");
    assert!(message.contains("a Prow job that never ends"), "{message}");
    assert!(message.contains("last state: state PENDING"), "{message}");
    assert!(
        elapsed < timeout / 2,
        "the signal stopped the wait, not the deadline: {elapsed:?}"
    );
}
