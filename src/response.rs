//! What a webhook's response means: deliver, retry (and when), give up, or disable the
//! endpoint. The retry policy is plugin data, not host guesswork.

use crate::model::{Header, Instant, Verdict};
use crate::value::{Date, Instant as At};

/// The longest `Retry-After` honoured, in seconds: an hour, long enough for a deploy or a
/// rate-limit window; a server asking for more is taken to ask for an hour, so a wrong
/// header cannot park a delivery for a day (a longer outage is the retry schedule's to
/// span). The reference host caps at the same value (`host_test::limits::RETRY_AFTER_CAP`,
/// checked by `tests/sandbox.rs`).
pub const MAX_RETRY_AFTER_SECS: u32 = 3600;

/// Classify a response. 2xx: success. 3xx: give up (redirects are never followed: a
/// webhook that moved must be reconfigured). 408, 425, 429 and 5xx: retry, after
/// `Retry-After` when given. 410: disable the endpoint. Other 4xx: give up.
pub fn classify(status: u16, headers: &[Header], now: Instant) -> Verdict {
    match status {
        200..=299 => Verdict::Success,
        410 => Verdict::DisableEndpoint,
        408 | 425 | 429 | 500..=599 => Verdict::Retry(
            headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("retry-after"))
                .and_then(|h| retry_after(&h.value, now)),
        ),
        _ => Verdict::GiveUp,
    }
}

/// `Retry-After` as seconds from `now`: delay-seconds or an HTTP-date (RFC 9110 section
/// 10.2.3), capped at [`MAX_RETRY_AFTER_SECS`]; a date in the past means now (0).
pub fn retry_after(value: &str, now: Instant) -> Option<u32> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        let secs = v.parse::<u64>().unwrap_or(u64::MAX);
        return Some(secs.min(MAX_RETRY_AFTER_SECS as u64) as u32);
    }
    let at = http_date(v)?;
    let delta = at.seconds.saturating_sub(now.seconds).max(0);
    Some(delta.min(MAX_RETRY_AFTER_SECS as i64) as u32)
}

/// Parse an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850 form
/// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`).
pub fn http_date(s: &str) -> Option<At> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = |m: &str| MONTHS.iter().position(|x| *x == m).map(|i| i as u8 + 1);
    let time = |t: &str| -> Option<(u32, u32, u32)> {
        let mut p = t.split(':').map(|x| x.parse::<u32>().ok());
        let (h, m, s) = (p.next()??, p.next()??, p.next()??);
        (h < 24 && m < 60 && s < 61 && p.next().is_none()).then_some((h, m, s.min(59)))
    };
    let words: Vec<&str> = s.split_whitespace().collect();
    let (year, mon, day, hms) = match words.as_slice() {
        [_, d, m, y, t, "GMT"] => (y.parse::<i32>().ok()?, month(m)?, d.parse().ok()?, time(t)?),
        [_, dmy, t, "GMT"] => {
            let mut p = dmy.split('-');
            let (d, m, y) = (p.next()?, p.next()?, p.next()?.parse::<i32>().ok()?);
            // RFC 9110: a two-digit year more than 50 years in the future is in the past.
            let y = if y < 100 {
                if y < 70 { 2000 + y } else { 1900 + y }
            } else {
                y
            };
            (y, month(m)?, d.parse().ok()?, time(t)?)
        }
        [_, m, d, t, y] => (y.parse().ok()?, month(m)?, d.parse().ok()?, time(t)?),
        _ => return None,
    };
    let date = Date::new(year, mon, day)?;
    Some(At::from_date_time(date, hms.0, hms.1, hms.2, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Instant = Instant {
        seconds: 784_111_777,
        nanoseconds: 0,
    }; // Sun, 06 Nov 1994 08:49:37 GMT

    fn h(v: &str) -> Vec<Header> {
        vec![Header {
            name: "Retry-After".into(),
            value: v.into(),
        }]
    }

    #[test]
    fn the_classify_table() {
        for (status, want) in [
            (200, Verdict::Success),
            (204, Verdict::Success),
            (299, Verdict::Success),
            (301, Verdict::GiveUp),
            (302, Verdict::GiveUp),
            (308, Verdict::GiveUp),
            (400, Verdict::GiveUp),
            (401, Verdict::GiveUp),
            (404, Verdict::GiveUp),
            (408, Verdict::Retry(None)),
            (410, Verdict::DisableEndpoint),
            (422, Verdict::GiveUp),
            (425, Verdict::Retry(None)),
            (429, Verdict::Retry(None)),
            (500, Verdict::Retry(None)),
            (503, Verdict::Retry(None)),
            (599, Verdict::Retry(None)),
            (100, Verdict::GiveUp),
        ] {
            assert_eq!(classify(status, &[], NOW), want, "{status}");
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(classify(503, &h("120"), NOW), Verdict::Retry(Some(120)));
        assert_eq!(
            classify(429, &h("Sun, 06 Nov 1994 08:51:37 GMT"), NOW),
            Verdict::Retry(Some(120))
        );
        assert_eq!(
            classify(429, &h("Sunday, 06-Nov-94 08:50:37 GMT"), NOW),
            Verdict::Retry(Some(60))
        );
        assert_eq!(
            classify(429, &h("Sun Nov  6 08:49:47 1994"), NOW),
            Verdict::Retry(Some(10))
        );
        assert_eq!(
            classify(503, &h("Sat, 05 Nov 1994 08:49:37 GMT"), NOW),
            Verdict::Retry(Some(0))
        );
        assert_eq!(classify(503, &h("soon"), NOW), Verdict::Retry(None));
        assert_eq!(classify(503, &h("-5"), NOW), Verdict::Retry(None));
        // Only retryable statuses read Retry-After.
        assert_eq!(classify(400, &h("5"), NOW), Verdict::GiveUp);
    }

    #[test]
    fn retry_after_cap_obeyed_and_violated() {
        let cap = MAX_RETRY_AFTER_SECS.to_string();
        assert_eq!(retry_after(&cap, NOW), Some(MAX_RETRY_AFTER_SECS));
        let over = (MAX_RETRY_AFTER_SECS as u64 + 1).to_string();
        assert_eq!(retry_after(&over, NOW), Some(MAX_RETRY_AFTER_SECS));
        assert_eq!(
            retry_after("99999999999999999999999", NOW),
            Some(MAX_RETRY_AFTER_SECS)
        );
    }
}
