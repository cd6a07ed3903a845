-- When Onwatch itself was watching the fleet: one row per running process (replicas sharing a
-- store each have theirs). Between the periods, nothing was seen: a service page shows such a
-- stretch as a gap, so a change recorded after it is not read as the moment the change happened.
CREATE TABLE watch_periods (
    -- random, per process
    id          TEXT    PRIMARY KEY,
    started_ms  BIGINT  NOT NULL,
    -- the last heartbeat: watching is proven up to here even if the process later crashed
    alive_ms    BIGINT  NOT NULL,
    -- set by a clean shutdown
    ended_ms    BIGINT
);
CREATE INDEX watch_periods_alive ON watch_periods (alive_ms);
