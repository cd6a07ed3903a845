-- Sign-ins in progress: what the server remembers between sending a browser to the identity
-- provider and the provider sending it back (state, PKCE verifier, nonce). Kept apart from the
-- sessions so that an anonymous visitor who starts sign-ins by the thousand creates no session:
-- rows live ten minutes, their number is capped, and a callback deletes its row before the code
-- is exchanged, so that a callback can be used once only.
CREATE TABLE pending_signins (
    -- the random value of the browser's short-lived `onwatch_signin` cookie
    id          TEXT    NOT NULL PRIMARY KEY,
    -- the PendingSignIn as JSON
    data        TEXT    NOT NULL,
    created_ms  BIGINT  NOT NULL,
    expires_ms  BIGINT  NOT NULL
);

CREATE INDEX pending_signins_expires ON pending_signins (expires_ms);
