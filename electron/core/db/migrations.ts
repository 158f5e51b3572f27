/**
 * Versioned schema migrations. Index i brings the schema from version i to i+1 (PRAGMA user_version).
 * Never edit a released migration; append a new one.
 */
export const MIGRATIONS: readonly string[] = [
  /* v1: initial schema */ `
  CREATE TABLE roots (
    id            INTEGER PRIMARY KEY,
    path          TEXT NOT NULL UNIQUE,
    added_at      INTEGER NOT NULL,
    last_scan_at  INTEGER
  );

  CREATE TABLE photos (
    id            INTEGER PRIMARY KEY,
    root_id       INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
    rel_path      TEXT NOT NULL,
    size          INTEGER NOT NULL DEFAULT 0,
    mtime_ms      INTEGER NOT NULL DEFAULT 0,
    hash          TEXT,
    width         INTEGER,
    height        INTEGER,
    format        TEXT,
    taken_at      INTEGER,
    tz            TEXT,
    camera        TEXT,
    lat           REAL,
    lon           REAL,
    orientation   INTEGER,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'ok', 'error', 'missing', 'unsupported')),
    error_code    TEXT,
    error_message TEXT,
    scanned_at    INTEGER,
    UNIQUE (root_id, rel_path)
  );
  CREATE INDEX photos_hash ON photos(hash);
  CREATE INDEX photos_status ON photos(status);

  CREATE TABLE thumbnails (
    photo_id  INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    kind      TEXT NOT NULL CHECK (kind IN ('thumb', 'preview')),
    file      TEXT NOT NULL,
    width     INTEGER NOT NULL,
    height    INTEGER NOT NULL,
    hash      TEXT NOT NULL,
    PRIMARY KEY (photo_id, kind)
  );

  CREATE TABLE models (
    key         TEXT PRIMARY KEY,          -- "<id>@<version>"
    id          TEXT NOT NULL,
    version     TEXT NOT NULL,
    dir         TEXT NOT NULL,             -- folder holding <id>.onnx and <id>.json
    parent      TEXT,                      -- key of the model it was fine-tuned from
    created_at  INTEGER NOT NULL,
    active      INTEGER NOT NULL DEFAULT 0,
    discarded   INTEGER NOT NULL DEFAULT 0
  );

  CREATE TABLE embeddings (
    photo_id   INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    model_key  TEXT NOT NULL,
    hash       TEXT NOT NULL,              -- content hash the vector was computed from
    dtype      TEXT NOT NULL CHECK (dtype IN ('float32', 'float16')),
    dim        INTEGER NOT NULL,
    vector     BLOB NOT NULL,
    device     TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (photo_id, model_key)
  );
  CREATE INDEX embeddings_model ON embeddings(model_key);

  CREATE TABLE albums (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL,
    name_source    TEXT NOT NULL DEFAULT 'auto' CHECK (name_source IN ('auto', 'user')),
    kind           TEXT NOT NULL CHECK (kind IN ('auto', 'user', 'unsorted')),
    cover_photo_id INTEGER REFERENCES photos(id) ON DELETE SET NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    deleted_at     INTEGER
  );

  -- Every photo is in at most one album. source 'user' rows are pinned: nothing automatic moves them.
  CREATE TABLE album_members (
    photo_id   INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    album_id   INTEGER NOT NULL REFERENCES albums(id),
    source     TEXT NOT NULL CHECK (source IN ('auto', 'user')),
    pinned     INTEGER NOT NULL DEFAULT 0,
    sim        REAL,                       -- cosine similarity to the album prototype at assignment
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX album_members_album ON album_members(album_id, photo_id);

  -- A photo the person took out of an album is never put back into it automatically.
  CREATE TABLE cannot_link (
    photo_id   INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    album_id   INTEGER NOT NULL REFERENCES albums(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (photo_id, album_id)
  );

  CREATE TABLE training_runs (
    id          INTEGER PRIMARY KEY,
    method      TEXT NOT NULL,
    base_model  TEXT NOT NULL,
    out_model   TEXT,
    status      TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'cancelled')),
    device      TEXT,
    epochs      INTEGER NOT NULL,
    epoch       INTEGER NOT NULL DEFAULT 0,
    seed        INTEGER NOT NULL,
    params_json TEXT NOT NULL DEFAULT '{}',
    metrics_json TEXT NOT NULL DEFAULT '{}',
    started_at  INTEGER NOT NULL,
    finished_at INTEGER
  );

  CREATE TABLE checkpoints (
    run_id     INTEGER NOT NULL REFERENCES training_runs(id) ON DELETE CASCADE,
    epoch      INTEGER NOT NULL,
    file       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (run_id, epoch)
  );

  -- Undo journal of user edits. state: 'done' (undoable) or 'undone' (redoable). New edits drop 'undone' rows.
  CREATE TABLE edits (
    id         INTEGER PRIMARY KEY,
    created_at INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    label      TEXT NOT NULL,
    payload    TEXT NOT NULL,
    state      TEXT NOT NULL DEFAULT 'done' CHECK (state IN ('done', 'undone'))
  );

  CREATE TABLE jobs (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    state       TEXT NOT NULL,
    params      TEXT NOT NULL DEFAULT '{}',
    done        INTEGER NOT NULL DEFAULT 0,
    total       INTEGER NOT NULL DEFAULT 0,
    message     TEXT NOT NULL DEFAULT '',
    error       TEXT,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER
  );

  CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  /* v2: near-duplicate groups found by clustering */ `
  ALTER TABLE photos ADD COLUMN near_dup_of INTEGER REFERENCES photos(id) ON DELETE SET NULL;
  `,
  /* v3: training views of the embedding cached before training features (never read since); the checkpoints
     table, which nothing writes (checkpoints are files in training/) */ `
  DELETE FROM embeddings WHERE model_key LIKE '%#view%';
  DROP TABLE checkpoints;
  `,
  /* v4: where a capture time came from; the place (reverse geocoded from GPS); objects found by the detector; why an
     album got its automatic name */ `
  ALTER TABLE photos ADD COLUMN taken_source TEXT CHECK (taken_source IN ('exif', 'file'));
  ALTER TABLE photos ADD COLUMN city TEXT;
  ALTER TABLE photos ADD COLUMN region TEXT;
  ALTER TABLE photos ADD COLUMN country TEXT;
  ALTER TABLE photos ADD COLUMN place_key TEXT;             -- geocoder data version the place was looked up with
  -- The capture time as the photographer's clock showed it, read as UTC (what dates, names and the timeline use).
  ALTER TABLE photos ADD COLUMN taken_local INTEGER;
  UPDATE photos SET taken_source = 'exif', taken_local = taken_at + CASE WHEN tz IS NULL THEN 0 ELSE
    (CASE substr(tz, 1, 1) WHEN '-' THEN -1 ELSE 1 END) *
    (CAST(substr(tz, 2, 2) AS INTEGER) * 60 + CAST(substr(tz, 5, 2) AS INTEGER)) * 60000 END
    WHERE taken_at IS NOT NULL;
  -- Photos indexed before without a date get their file's time (in UTC: the machine's zone is unknown to SQL).
  UPDATE photos SET taken_source = 'file', taken_at = mtime_ms, taken_local = mtime_ms
    WHERE taken_at IS NULL AND hash IS NOT NULL AND mtime_ms > 0;
  CREATE INDEX photos_taken ON photos(taken_local, id);

  CREATE TABLE photo_objects (
    photo_id   INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    label      TEXT NOT NULL,
    score      REAL NOT NULL,
    PRIMARY KEY (photo_id, label)
  );
  CREATE INDEX photo_objects_label ON photo_objects(label);
  -- Photos the detector has looked at (with the detector's key), so a photo with no objects is not run again.
  CREATE TABLE objects_done (
    photo_id   INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    hash       TEXT NOT NULL,
    model_key  TEXT NOT NULL
  );

  ALTER TABLE albums ADD COLUMN name_reason TEXT;
  `,
  /* v5: covering indexes for search's places and cameras (one index scan instead of a row lookup per photo) */ `
  CREATE INDEX photos_place ON photos(status, country, region, city);
  CREATE INDEX photos_camera ON photos(status, camera);
  `,
  /* v6: faces found in photos, and the people they are grouped into */ `
  CREATE TABLE people (
    id            INTEGER PRIMARY KEY,
    name          TEXT,                     -- null until the person names them
    cover_face_id INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
  );
  CREATE TABLE faces (
    id          INTEGER PRIMARY KEY,
    photo_id    INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    -- Box and keypoints as fractions of the upright photo's width and height.
    x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,
    landmarks   TEXT NOT NULL,              -- JSON [[x, y] x 6]: right eye, left eye, nose, mouth, right ear, left ear
    score       REAL NOT NULL,
    quality     REAL NOT NULL,              -- 0..1: size, score, frontal
    low_quality INTEGER NOT NULL,           -- 1: tiny, unsure or profile; kept, never seeds a person
    embedding   BLOB NOT NULL,              -- float32, unit length
    person_id   INTEGER REFERENCES people(id) ON DELETE SET NULL,
    source      TEXT NOT NULL DEFAULT 'auto' CHECK (source IN ('auto', 'user')),  -- 'user': the person put it there
    updated_at  INTEGER NOT NULL
  );
  CREATE INDEX faces_photo ON faces(photo_id);
  CREATE INDEX faces_person ON faces(person_id);
  -- Photos the face models have looked at (in their current content), so a photo without faces is not run again.
  CREATE TABLE faces_done (
    photo_id  INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    hash      TEXT NOT NULL,
    model_key TEXT NOT NULL
  );
  -- "Not this person": the face never goes back to them.
  CREATE TABLE face_not_person (
    face_id   INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    PRIMARY KEY (face_id, person_id)
  );
  `,
];
