-- A cancel asked of a running action (issue #29, point 1): written into the action's row, on
-- any replica, and read by the process that runs it when it renews its lease. Empty until asked;
-- asked once (the first request stands). `cancel_requested_by` is the stable account
-- (`provider:subject`), `cancel_requested_name` the name the pages show, at the store's clock.
ALTER TABLE actions ADD COLUMN cancel_requested_by TEXT;
ALTER TABLE actions ADD COLUMN cancel_requested_name TEXT;
ALTER TABLE actions ADD COLUMN cancel_requested_ms BIGINT;
