//! One person's epidemic record on one timeline: screenings, observations and their release,
//! check-ins (and who entered them), alerts, passes, gate scans and trips, newest first.

crate::labelled! {
    /// What happened.
    pub enum EventKind: "kind" {
        #[strum(serialize = "arrival", props(zh = "来返登记"))]
        Arrival,
        #[strum(serialize = "observation", props(zh = "开始观察"))]
        Observation,
        #[strum(serialize = "release", props(zh = "解除观察"))]
        Release,
        #[strum(serialize = "checkin", props(zh = "健康打卡"))]
        Checkin,
        #[strum(serialize = "alert", props(zh = "预警"))]
        Alert,
        #[strum(serialize = "alert_handled", props(zh = "预警已处理"))]
        AlertHandled,
        #[strum(serialize = "pass", props(zh = "发放通行证"))]
        Pass,
        #[strum(serialize = "scan", props(zh = "卡口通行"))]
        Scan,
        #[strum(serialize = "trip", props(zh = "外出登记"))]
        Trip,
    }
}

/// One entry of the timeline: when, what, and a line of detail already in Chinese.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Event {
    /// Unix milliseconds (a day's events that carry only a date sit at its midnight).
    pub at: i64,
    pub kind: EventKind,
    pub detail: String,
    /// Whether it calls for attention (a fever, a refusal at the gate, an open alert).
    pub warn: bool,
}

/// Newest first; on one instant, the kind later in the list first (a pass above the arrival
/// it was refused for, a check-in above the observation that starts that midnight).
pub fn order(events: &mut [Event]) {
    events.sort_by(|a, b| {
        b.at.cmp(&a.at)
            .then((b.kind as u8).cmp(&(a.kind as u8)))
            .then(a.detail.cmp(&b.detail))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(at: i64, kind: EventKind) -> Event {
        Event {
            at,
            kind,
            detail: String::new(),
            warn: false,
        }
    }

    #[test]
    fn newest_first_and_later_kinds_first_on_one_instant() {
        let mut events = vec![
            ev(10, EventKind::Arrival),
            ev(30, EventKind::Checkin),
            ev(30, EventKind::Release),
            ev(20, EventKind::Observation),
        ];
        order(&mut events);
        let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EventKind::Checkin,
                EventKind::Release,
                EventKind::Observation,
                EventKind::Arrival
            ]
        );
    }
}
