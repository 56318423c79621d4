-- The optional photo of a resident's request: at most one per request, kept apart from the
-- request row so that lists stay light. The content type is what the bytes' signature says
-- (JPEG, PNG or WebP), never what the uploader claimed.
CREATE TABLE request_photo (
    request_id BIGINT PRIMARY KEY REFERENCES request (id),
    content_type TEXT NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    bytes BYTEA NOT NULL,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);
