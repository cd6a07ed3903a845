-- An idempotency key is the person's own: the same key from two people is two requests (a
-- global key let one person's request answer "already done" for another's). And `holder`:
-- which Onwatch process runs the action (its instance id), compared in every update the
-- runner makes, so that a process paused past its lease and replaced cannot write over the
-- outcome the sweeper recorded (a fencing token).
ALTER TABLE actions DROP CONSTRAINT actions_idempotency_key_key;
CREATE UNIQUE INDEX actions_actor_key ON actions (actor, idempotency_key);
ALTER TABLE actions ADD COLUMN holder TEXT NOT NULL DEFAULT '';
