-- Collect once, fill many (issue 6): other offices' form layouts (a health bureau's
-- 「疫情防控每日统计表」) whose columns are filled from the indicators of a source template, so
-- producing that form needs no retyping. The definition is JSON of
-- linli_core::report::mapping::Mapping. Versioned like report_template: a published version is
-- never changed; a changed layout is a new version with its own effective date. A mapping key
-- never equals a template key (they share the URL /api/v1/reports/{key}/…; the store checks).
CREATE TABLE report_mapping (
    id INTEGER PRIMARY KEY,
    mapping_key TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    source_key TEXT NOT NULL,
    effective_from TEXT NOT NULL,
    definition_json TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (mapping_key, version)
);

-- The preset (linli_core::report::mapping::Mapping::health_bureau_daily); a store test checks
-- that this row equals it.
INSERT INTO report_mapping (mapping_key, version, name, source_key, effective_from, definition_json, created_at, created_by)
VALUES ('health-bureau-daily', 1, '疫情防控每日统计表', 'epidemic-daily', '2020-01-20',
'{"key":"health-bureau-daily","name":"疫情防控每日统计表","office":"卫健局","source":"epidemic-daily","version":1,"unit_header":"社区（村）","columns":[{"key":"fever","header":"发热病人（未处置）","unit":"人","sources":["fevers_open"]},{"key":"isolation_total","header":"隔离观察合计","unit":"人","sources":["under_centralized_quarantine","under_home_quarantine"]},{"key":"isolation_centralized","header":"其中：集中隔离","unit":"人","sources":["under_centralized_quarantine"]},{"key":"isolation_home","header":"其中：居家隔离","unit":"人","sources":["under_home_quarantine"]},{"key":"monitoring","header":"健康监测","unit":"人","sources":["health_monitoring"]},{"key":"released","header":"当日解除隔离观察","unit":"人","sources":["releases"]},{"key":"arrivals","header":"当日新增外地返回人员","unit":"人","sources":["arrivals_new"]},{"key":"disinfection","header":"环境消杀","unit":"次","sources":["disinfection_rounds"]},{"key":"remarks","header":"备注","unit":"","sources":["notes"]}]}',
0, 'migration');
