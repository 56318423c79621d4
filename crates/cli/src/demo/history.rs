//! `linli demo`, its history: the outbreak weeks of January–February 2020 in the communities under
//! the 2020 preset (社区疫情防控措施（2020 年初）), made by the app's own operations — each
//! with the instant it happened as its `now` — day after day: arrival screenings (Hubei →
//! centralised quarantine, other provinces and cities → home quarantine, a few fevers), check-ins
//! twice a day (some missed, so overdue alerts are raised by the same sweep the server runs),
//! alerts handled the next morning, two cases and their close contacts, a gate at 康珠小区 with
//! passes and scans, trips, releases, and the community's daily report (on time, late, zero).
//! It runs on into March 2020 until the last quarantine is released, so the records say who was
//! under observation on each day (`released_on`) and nothing is left open today.

use std::collections::{HashMap, HashSet};

use linli_core::epidemic::checkpoint::Direction;
use linli_core::epidemic::contact::CaseKind;
use linli_core::epidemic::observation::CheckinChannel;
use linli_core::epidemic::policy::{ContactKind, DivisionCode, Temperature};
use linli_core::epidemic::trips::TripDraft;
use linli_core::kernel::clock::day_start_ms;
use linli_core::Scope;
use linli_store::epidemic::checkpoints::{self, Holder, PassInput, Passer, ScanInput};
use linli_store::epidemic::contacts::{self, ContactInput};
use linli_store::epidemic::{
    self, alerts, trips, ArrivalInput, ArrivalPerson, ArrivalSource, CheckinInput, CheckinJob,
    CheckinWriter,
};
use linli_store::reports::{self, SubmitInput};
use linli_store::tree::{self, Node};
use linli_store::{Db, StoreError};
use time::{macros::date, Date, Duration};

use super::people::Resident;
use crate::bench::Rng;
use crate::CliError;

/// What the history step did.
#[derive(Debug, Default)]
pub struct History {
    pub arrivals: usize,
    pub observations: usize,
    pub checkins: usize,
    pub alerts_handled: usize,
    pub cases: usize,
    pub contacts: usize,
    pub passes: usize,
    pub scans: usize,
    pub trips: usize,
    pub reports: usize,
    pub released: usize,
}

/// The first day of the history: the 2020 preset and the daily report take effect.
const FIRST_DAY: Date = date!(2020 - 01 - 20);

/// Where arrivals come from when their hukou does not say: Hubei (centralised quarantine),
/// other provinces and other cities of Yunnan (home quarantine).
const HUBEI: &[&str] = &["420111", "420106", "420102", "421002", "420902"];
const OTHER_PROVINCES: &[&str] = &[
    "510104", "500101", "540102", "513301", "430102", "610113", "440305", "330106", "511602",
];
const YUNNAN_CITIES: &[&str] = &["530102", "532901", "530702"];

const PURPOSES: &[&str] = &[
    "春节返乡后返回",
    "返岗复工",
    "探亲返回",
    "外出旅游返回",
    "外地就学返回",
];

/// An observation the history follows day by day.
struct Obs {
    id: i64,
    person: i64,
    start: Date,
    until: Date,
    per_day: u8,
    released: bool,
    /// The day a check-in shows a fever (the day before a case is diagnosed).
    fever_on: Option<Date>,
}

/// A case to come: who, diagnosed when, of which kind, and who came with them.
struct CasePlan {
    person: i64,
    arrived_on: Date,
    diagnosed_on: Date,
    kind: CaseKind,
}

/// The instant of `hour:minute` on `day` (China time).
pub fn at(day: Date, hour: i64, minute: i64) -> i64 {
    day_start_ms(day) + (hour * 60 + minute) * 60_000
}

fn temperature(tenths: i64) -> Result<Temperature, CliError> {
    Temperature::from_tenths(tenths).map_err(|e| CliError::Usage(e.to_string()))
}

fn usage(e: impl std::fmt::Debug) -> CliError {
    CliError::Usage(format!("{e:?}"))
}

struct Builder<'a> {
    db: &'a Db,
    op: Scope,
    rng: Rng,
    community: &'a Node,
    residents: Vec<Resident>,
    /// Its share of the arrivals, cases and trips of 里布嘎社区 (1.0).
    scale: f64,
    /// The cases to come: two in 里布嘎社区 (one with `small`), none elsewhere.
    cases_wanted: usize,
    observations: Vec<Obs>,
    /// Arrivals of each day (person ids), for fellow travellers of a case.
    arrived: HashMap<Date, Vec<i64>>,
    screened: HashSet<i64>,
    cases: Vec<CasePlan>,
    writer: CheckinWriter,
    /// The gate of 康珠小区 (in 里布嘎社区 only): the checkpoint and the passes' codes.
    gate: Option<(i64, Vec<String>)>,
    made: History,
}

/// The outbreak's last day in the demo: 29 February 2020 (12 February with `small`).
pub fn last_day(small: bool) -> Date {
    if small {
        date!(2020 - 02 - 12)
    } else {
        date!(2020 - 02 - 29)
    }
}

/// One community the history runs in: its node, the residents registered there, and its size
/// against 里布嘎社区 (1.0).
pub struct Place<'a> {
    pub community: &'a Node,
    pub street: &'a Node,
    pub scale: f64,
}

/// Builds the history from `FIRST_DAY` to its last day (2020-02-29, or 2020-02-12 with
/// `small`) and on until every observation is released, in every community at once, day by
/// day, over the residents registered by `people`. The first community keeps the gate and the
/// cases. Each day's community reports are approved by the street as they come in; once all of
/// a street's are, the street reports its roll-up and the district approves it.
pub async fn build(
    db: &Db,
    places: &[Place<'_>],
    residents: &[Resident],
    small: bool,
    rng: &mut Rng,
) -> Result<History, CliError> {
    let mut builders = Vec::new();
    for (k, p) in places.iter().enumerate() {
        let mut b = Builder {
            db,
            op: Scope::operator(),
            rng: Rng(rng.next()),
            community: p.community,
            residents: residents
                .iter()
                .filter(|r| r.community == p.community.id)
                .cloned()
                .collect(),
            scale: p.scale,
            cases_wanted: match (k, small) {
                (0, true) => 1,
                (0, false) => 2,
                _ => 0,
            },
            observations: Vec::new(),
            arrived: HashMap::new(),
            screened: HashSet::new(),
            cases: Vec::new(),
            writer: CheckinWriter::new(db.clone()),
            gate: None,
            made: History::default(),
        };
        if k == 0 {
            b.gate = b.gate(small).await?;
        }
        builders.push(b);
    }
    let mut streets: Vec<&Node> = Vec::new();
    for p in places {
        if !streets.iter().any(|s| s.id == p.street.id) {
            streets.push(p.street);
        }
    }
    let last = last_day(small);
    // Arrivals stop nine days before the end (at the end in `small`); after the end the days go on
    // with check-ins and releases only, until the last quarantine is over and its alerts are
    // handled, as they were: the demo opened today shows no one still "in quarantine since 2020".
    let arrivals_until = last - Duration::days(if small { 0 } else { 9 });
    let mut made = History::default();
    let mut day = FIRST_DAY;
    let open = |bs: &[Builder<'_>]| {
        bs.iter()
            .any(|b| b.observations.iter().any(|o| !o.released))
    };
    while day <= last || open(&builders) {
        let outbreak = day <= last;
        for b in &mut builders {
            if day >= date!(2020 - 01 - 22) && day <= arrivals_until {
                let n = if small {
                    2
                } else if day <= date!(2020 - 02 - 03) {
                    14 + b.rng.below(8) as usize
                } else {
                    4 + b.rng.below(6) as usize
                };
                let n = (n as f64 * b.scale).round() as usize;
                b.arrivals(day, n).await?;
            }
            b.diagnose(day).await?;
            b.checkins(day).await?;
            if let (Some((checkpoint, passes)), true) = (b.gate.clone(), outbreak) {
                b.scans(day, checkpoint, &passes).await?;
            }
            if outbreak && day.day().is_multiple_of(3) {
                let count = if small {
                    1
                } else {
                    (3.0 * b.scale).ceil() as usize
                };
                b.trip(day, count).await?;
            }
        }
        epidemic::alerts::raise_overdue(db, at(day, 23, 30)).await?;
        // When each street's last community report was approved.
        let mut ready: HashMap<i64, i64> = HashMap::new();
        for b in &mut builders {
            b.handle_alerts(day).await?;
            b.release(day).await?;
            if outbreak {
                let approved = b.report(day, day < date!(2020 - 01 - 22)).await?;
                if let Some(street) = b.community.parent_id {
                    let r = ready.entry(street).or_default();
                    *r = (*r).max(approved);
                }
            }
        }
        for street in &streets {
            if let Some(after) = ready.get(&street.id) {
                made.reports += street_report(db, street, day, *after).await?;
            }
        }
        day += Duration::days(1);
    }
    for b in builders {
        made.add(&b.made);
    }
    Ok(made)
}

/// A street's roll-up of the day, reported a few minutes after its last community report was
/// approved (on time when they all were), and approved by the district half an hour later.
async fn street_report(db: &Db, street: &Node, day: Date, after: i64) -> Result<usize, CliError> {
    let op = Scope::operator();
    let key = linli_core::reports::EPIDEMIC_DAILY;
    let input = SubmitInput {
        manual: Vec::new(),
        zero: false,
    };
    let submitted = after + 3 * 60_000;
    reports::submit(db, &op, key, street.id, day, &input, submitted).await?;
    reports::approve(db, &op, key, street.id, day, submitted + 30 * 60_000).await?;
    Ok(1)
}

impl History {
    fn add(&mut self, o: &History) {
        self.arrivals += o.arrivals;
        self.observations += o.observations;
        self.checkins += o.checkins;
        self.alerts_handled += o.alerts_handled;
        self.cases += o.cases;
        self.contacts += o.contacts;
        self.passes += o.passes;
        self.scans += o.scans;
        self.trips += o.trips;
        self.reports += o.reports;
        self.released += o.released;
    }
}

impl Builder<'_> {
    /// A resident of 16 or more not screened yet.
    fn someone(&mut self) -> Option<Resident> {
        for _ in 0..1000 {
            let r = self.rng.pick(&self.residents);
            if r.age >= 16 && !self.screened.contains(&r.id) {
                return Some(r.clone());
            }
        }
        None
    }

    async fn arrivals(&mut self, day: Date, n: usize) -> Result<(), CliError> {
        for k in 0..n {
            let Some(person) = self.someone() else {
                return Ok(());
            };
            self.screened.insert(person.id);
            // Floating residents come back from home; the others from where they went.
            let origin = match person.from {
                Some(code) if !code.starts_with("53") => code,
                _ => match (self.made.arrivals + k) % 4 {
                    0 => *self.rng.pick(HUBEI),
                    1 => *self.rng.pick(YUNNAN_CITIES),
                    _ => *self.rng.pick(OTHER_PROVINCES),
                },
            };
            let fever = self.rng.chance(3);
            let tenths = if fever {
                375 + self.rng.below(12) as i64
            } else {
                362 + self.rng.below(8) as i64
            };
            let symptoms = if fever {
                vec![self.rng.pick(&["咳嗽", "乏力", "咽痛"]).to_string()]
            } else {
                Vec::new()
            };
            let now = at(day, 9, self.rng.below(540) as i64);
            let r = epidemic::record_arrival(
                self.db,
                &self.op,
                ArrivalInput {
                    person: ArrivalPerson::Registered(person.id),
                    origin_code: DivisionCode::parse(origin).map_err(usage)?,
                    arrived_on: day,
                    purpose: Some(self.rng.pick(PURPOSES).to_string()),
                    symptoms,
                    temperature: Some(temperature(tenths)?),
                    source: ArrivalSource::Worker,
                },
                now,
            )
            .await?;
            self.made.arrivals += 1;
            self.arrived.entry(day).or_default().push(person.id);
            // An observation the person is already under (as a close contact) is kept as it
            // is: it is followed already.
            let Some(obs) = r
                .observation_id
                .filter(|id| self.observations.iter().all(|o| o.id != *id))
            else {
                continue;
            };
            self.made.observations += 1;
            self.observations.push(Obs {
                id: obs,
                person: person.id,
                start: r.classification.start,
                until: r.classification.until,
                per_day: r.classification.check_ins_per_day,
                released: false,
                fever_on: None,
            });
            // Cases: the first Hubei arrival (and, in the full demo, one a week later) falls
            // ill in centralised quarantine.
            let hubei = origin.starts_with("42");
            let wanted = self.cases_wanted;
            let due = self.cases.is_empty()
                || (self.cases.len() < wanted && day >= date!(2020 - 01 - 31));
            if hubei && due && self.cases.len() < wanted {
                let first = self.cases.is_empty();
                let diagnosed_on = day + Duration::days(if first { 5 } else { 6 });
                if let Some(o) = self.observations.last_mut() {
                    o.fever_on = Some(diagnosed_on - Duration::days(1));
                }
                self.cases.push(CasePlan {
                    person: person.id,
                    arrived_on: day,
                    diagnosed_on,
                    kind: if first {
                        CaseKind::Confirmed
                    } else {
                        CaseKind::Asymptomatic
                    },
                });
            }
        }
        Ok(())
    }

    /// Cases diagnosed today, and their close contacts: the household and the fellow
    /// travellers of the arrival day.
    async fn diagnose(&mut self, day: Date) -> Result<(), CliError> {
        let due: Vec<(i64, Date, CaseKind)> = self
            .cases
            .iter()
            .filter(|c| c.diagnosed_on == day)
            .map(|c| (c.person, c.arrived_on, c.kind))
            .collect();
        for (person, arrived_on, kind) in due {
            let now = at(day, 14, 0);
            contacts::mark_case(self.db, &self.op, person, kind, day, now).await?;
            self.made.cases += 1;
            let household = self
                .residents
                .iter()
                .find(|r| r.id == person)
                .map(|r| r.household);
            let mut contacts: Vec<i64> = self
                .residents
                .iter()
                .filter(|r| Some(r.household) == household && r.id != person)
                .map(|r| r.id)
                .take(4)
                .collect();
            let travellers = self.arrived.get(&arrived_on).cloned().unwrap_or_default();
            contacts.extend(travellers.into_iter().filter(|p| *p != person).take(2));
            for (k, contact) in contacts.into_iter().enumerate() {
                // Under observation as a contact: not screened again as an arrival.
                self.screened.insert(contact);
                let r = contacts::record_contact(
                    self.db,
                    &self.op,
                    &ContactInput {
                        person_id: contact,
                        source_person_id: person,
                        kind: ContactKind::CloseContact,
                        last_contact_on: arrived_on,
                    },
                    now + (k as i64 + 1) * 60_000,
                )
                .await?;
                self.made.contacts += 1;
                let (Some(id), Some(until)) = (r.observation_id, r.observation_until) else {
                    continue;
                };
                match self.observations.iter_mut().find(|o| o.id == id) {
                    Some(o) => o.until = until,
                    None => {
                        self.made.observations += 1;
                        self.observations.push(Obs {
                            id,
                            person: contact,
                            start: day,
                            until,
                            per_day: r.classification.check_ins_per_day,
                            released: false,
                            fever_on: None,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// The day's check-ins: morning and afternoon readings, about one in twenty missed, most by
    /// the person's own link and the rest entered on a worker's round. They go through the
    /// server's batching writer, all of a day at once, so they share a few transactions.
    async fn checkins(&mut self, day: Date) -> Result<(), CliError> {
        let mut due = Vec::new();
        for o in &self.observations {
            if !o.released && o.start <= day && day <= o.until {
                due.push((o.id, o.per_day, o.fever_on == Some(day)));
            }
        }
        let mut writes = tokio::task::JoinSet::new();
        for (id, per_day, fever) in due {
            for slot in 0..i64::from(per_day.max(1)) {
                if self.rng.chance(5) {
                    continue;
                }
                let when = at(day, 8 + slot * 7, self.rng.below(90) as i64);
                let (tenths, symptoms) = if fever && slot == 0 {
                    (383, vec!["咳嗽".to_owned(), "乏力".to_owned()])
                } else {
                    (361 + self.rng.below(9) as i64, Vec::new())
                };
                let channel = if self.rng.chance(60) {
                    CheckinChannel::SelfReport
                } else {
                    CheckinChannel::Round
                };
                let job = CheckinJob {
                    scope: self.op.clone(),
                    observation_id: id,
                    input: CheckinInput {
                        at: when,
                        temperature: Some(temperature(tenths)?),
                        symptoms,
                    },
                    now: when + 60_000,
                    channel,
                };
                let writer = self.writer.clone();
                writes.spawn(async move { writer.add(job).await });
            }
        }
        while let Some(done) = writes.join_next().await {
            done.map_err(|e| CliError::Usage(format!("check-in task: {e}")))??;
            self.made.checkins += 1;
        }
        Ok(())
    }

    /// Yesterday's alerts handled this morning: fevers seen at the clinic (the cases'
    /// transferred), missed check-ins followed up by phone.
    async fn handle_alerts(&mut self, day: Date) -> Result<(), CliError> {
        let cases: HashSet<i64> = self.cases.iter().map(|c| c.person).collect();
        let mut open = epidemic::open_alerts(self.db, &self.op, self.community.id, None).await?;
        // The day's check-ins were written concurrently: order by what the alert is about, not
        // by id, so a seed handles the same alerts the same way.
        open.sort_by(|a, b| {
            (a.raised_at, a.person_id, &a.kind).cmp(&(b.raised_at, b.person_id, &b.kind))
        });
        for (k, a) in open.into_iter().enumerate() {
            let outcome = match a.kind.as_str() {
                "fever" if cases.contains(&a.person_id) => "transferred",
                "fever" => "excluded",
                _ if self.rng.chance(10) => "escalated",
                _ => "contacted",
            };
            let now = at(day + Duration::days(1), 9, k as i64 % 120);
            alerts::handle(self.db, &self.op, a.id, outcome, None, now).await?;
            self.made.alerts_handled += 1;
        }
        Ok(())
    }

    /// Observations whose last day has passed are released in one batch.
    async fn release(&mut self, day: Date) -> Result<(), CliError> {
        let ids: Vec<i64> = self
            .observations
            .iter()
            .filter(|o| !o.released && o.until < day)
            .map(|o| o.id)
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        epidemic::release(self.db, &self.op, &ids, day, at(day, 11, 0)).await?;
        self.made.released += ids.len();
        for o in self.observations.iter_mut().filter(|o| ids.contains(&o.id)) {
            o.released = true;
        }
        Ok(())
    }

    /// The gate of 康珠小区 (set up on 28 January) and a pass for one member of each of its
    /// first households: the checkpoint's id and the passes' codes.
    async fn gate(&mut self, small: bool) -> Result<Option<(i64, Vec<String>)>, CliError> {
        let compound = tree::find_by_names(
            self.db,
            &self.op,
            &[
                super::DISTRICT.0,
                super::STREET.0,
                super::COMMUNITY.name,
                super::COMPOUND_WITH_GATE,
            ],
        )
        .await?
        .ok_or_else(|| CliError::Usage("the demo compound is missing".into()))?;
        let opened = date!(2020 - 01 - 28);
        let inside: HashSet<i64> = tree::subtree(self.db, &self.op, Some(compound.id))
            .await?
            .into_iter()
            .map(|n| n.id)
            .collect();
        let cp = checkpoints::create_checkpoint(
            self.db,
            &self.op,
            compound.id,
            "康珠小区东门",
            at(opened, 8, 0),
        )
        .await?;
        let mut seen = HashSet::new();
        let holders: Vec<i64> = self
            .residents
            .iter()
            .filter(|r| inside.contains(&r.node_id) && r.age >= 18)
            .filter(|r| seen.insert(r.household))
            .map(|r| r.id)
            .take(if small { 15 } else { 60 })
            .collect();
        let mut codes = Vec::new();
        for (k, person) in holders.into_iter().enumerate() {
            let pass = checkpoints::issue_pass(
                self.db,
                &self.op,
                &PassInput {
                    node_id: compound.id,
                    holder: Holder::Person(person),
                    purpose: Some("每户每两天一人外出采购".to_owned()),
                    valid_from: opened,
                    valid_to: date!(2020 - 03 - 31),
                },
                at(opened, 9, k as i64),
            )
            .await?;
            self.made.passes += 1;
            codes.push(pass.code);
        }
        Ok(Some((cp.id, codes)))
    }

    /// A day at the gate: some pass holders go out in the morning and come back later.
    async fn scans(
        &mut self,
        day: Date,
        checkpoint: i64,
        passes: &[String],
    ) -> Result<(), CliError> {
        if day < date!(2020 - 01 - 28) {
            return Ok(());
        }
        for code in passes {
            if !self.rng.chance(30) {
                continue;
            }
            let out = at(day, 8, self.rng.below(180) as i64);
            let back = out + (60 + self.rng.below(180) as i64) * 60_000;
            for (direction, when) in [(Direction::Out, out), (Direction::In, back)] {
                let input = ScanInput {
                    direction,
                    passer: Passer::PassCode(code.clone()),
                    temperature: Some(temperature(361 + self.rng.below(8) as i64)?),
                    at: Some(when),
                };
                checkpoints::record_scan(self.db, &self.op, checkpoint, &input, when).await?;
                self.made.scans += 1;
            }
        }
        Ok(())
    }

    /// A trip registered today by someone not under observation: work in town (logged day by
    /// day, back the same evening), a visit to the hospital, or work travel with a certificate.
    async fn trip(&mut self, day: Date, count: usize) -> Result<(), CliError> {
        let observed: HashSet<i64> = self.observations.iter().map(|o| o.person).collect();
        for _ in 0..count {
            let Some(person) = self.someone() else {
                return Ok(());
            };
            if observed.contains(&person.id) {
                continue;
            }
            let (kind, destination, days, certificate) = match self.rng.below(3) {
                0 => ("local_work", "香格里拉市区超市", 4, false),
                1 => ("medical", "迪庆州人民医院", 0, false),
                _ => ("work", "昆明市", 10, true),
            };
            let back = day + Duration::days(days);
            let draft = TripDraft::parse(kind, destination, Ok(day), Some(Ok(back)), certificate)
                .map_err(usage)?;
            let now = at(day, 8, 30);
            // Someone still away on an earlier trip is refused, as a worker would be.
            let id = match trips::add_trip(self.db, &self.op, person.id, &draft, now).await {
                Err(StoreError::Invalid(e)) if e.iter().all(|e| e.field == "leave_on") => continue,
                other => other?,
            };
            self.made.trips += 1;
            if kind == "local_work" {
                let mut d = day;
                while d < back {
                    let reading = format!("36.{}", 2 + self.rng.below(6));
                    trips::log_day(self.db, &self.op, id, Ok(d), &reading, "", d, at(d, 19, 0))
                        .await?;
                    d += Duration::days(1);
                }
            }
            trips::trip_returned(self.db, &self.op, id, back).await?;
        }
        Ok(())
    }

    /// The community's daily report: mostly by the 16:00 deadline, some late; a zero report on
    /// the days before anyone arrived; approved by the street as it comes in.
    /// Returns when the street approved it: five minutes after it came in.
    async fn report(&mut self, day: Date, zero: bool) -> Result<i64, CliError> {
        let key = linli_core::reports::EPIDEMIC_DAILY;
        let late = self.rng.chance(15);
        let now = at(day, if late { 17 } else { 15 }, self.rng.below(50) as i64);
        let manual = if zero {
            Vec::new()
        } else {
            vec![(
                "disinfection_rounds".to_owned(),
                (2 + self.rng.below(3)).to_string(),
            )]
        };
        let input = SubmitInput { manual, zero };
        reports::submit(self.db, &self.op, key, self.community.id, day, &input, now).await?;
        let approved = now + 5 * 60_000;
        reports::approve(self.db, &self.op, key, self.community.id, day, approved).await?;
        self.made.reports += 1;
        Ok(approved)
    }
}
