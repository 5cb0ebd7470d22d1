// Serves the Cloud Storage emulator of firebase-tools (its GCS JSON API under /storage/v1, /upload/storage/v1,
// /download/storage/v1) on 127.0.0.1:<port> for the gs backend tests, its blobs under <data dir>:
//   node gcs_emulator.js <firebase-tools package dir> <port> <data dir>
// `firebase emulators:start` would first download a Java rules runtime (no network here) and start a hub and a
// logging server on fixed ports; the GCS API needs neither (it is the admin path, which no rules govern), so the
// emulator's own storage layer and express app are served directly, registered as the CLI registers them.
"use strict";
const http = require("http");
const path = require("path");
const [root, port, data] = [process.argv[2], Number(process.argv[3]), process.argv[4]];
process.env.TMPDIR = data; // the emulator keeps its blobs under os.tmpdir()
const { StorageEmulator } = require(path.join(root, "lib/emulator/storage"));
const { createApp } = require(path.join(root, "lib/emulator/storage/server"));
const { EmulatorRegistry } = require(path.join(root, "lib/emulator/registry"));
const { CloudStorageObjectMetadata } = require(path.join(root, "lib/emulator/storage/metadata"));

// GCS's chunked resumable upload, which the emulator lacks (its PUT to a session takes the whole body and finishes
// the object at once): a PUT to a session with "Content-Range: bytes A-B/N" appends the chunk to the emulator's
// upload and answers 308 with "Range: bytes=0-X" until byte N-1 is in, then finishes the object (200 + its
// resource); "bytes */N" asks what the session holds. As GCS, a chunk must start where the session's bytes end
// (400 otherwise: nothing is duplicated), and a chunk cut off mid-way keeps what arrived, rounded down to 256 KiB.
// Requests without Content-Range go to the emulator unchanged. Returns false when the request is not one of these.
function resumableChunk(emulator, req, res) {
  const url = new URL(req.url, "http://localhost");
  const range = req.headers["content-range"];
  const id = url.searchParams.get("upload_id");
  if (req.method !== "PUT" || !url.pathname.startsWith("/upload/storage/v1/b/") || !id || !range) {
    return false;
  }
  const { uploadService, adminStorageLayer } = emulator;
  let upload;
  try {
    upload = uploadService.getResumableUpload(id);
  } catch {
    res.writeHead(404).end();
    return true;
  }
  const persisted = () => (upload.size > 0 ? { Range: `bytes=0-${upload.size - 1}` } : {});
  const query = /^bytes \*\/(\d+)$/.exec(range);
  const chunk = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(range);
  if (query) {
    req.resume();
    req.on("end", () => (upload.status === "finished" ? res.writeHead(200).end("{}") : res.writeHead(308, persisted()).end()));
    return true;
  }
  if (!chunk || Number(chunk[1]) !== upload.size) {
    req.resume();
    res.writeHead(400, { "Content-Type": "text/plain" }).end(`Content-Range ${range} does not start at the ${upload.size} bytes persisted`);
    return true;
  }
  const [last, total] = [Number(chunk[2]), Number(chunk[3])];
  const parts = [];
  let complete = false;
  req.on("data", (d) => parts.push(d));
  req.on("end", async () => {
    complete = true;
    uploadService.continueResumableUpload(id, Buffer.concat(parts));
    if (last + 1 < total) {
      res.writeHead(308, persisted()).end();
      return;
    }
    try {
      const metadata = await adminStorageLayer.uploadObject(uploadService.finalizeResumableUpload(id));
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(new CloudStorageObjectMetadata(metadata)));
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
  req.on("close", () => {
    if (!complete) {
      const received = Buffer.concat(parts);
      uploadService.continueResumableUpload(id, received.subarray(0, received.length - (received.length % (256 * 1024))));
    }
  });
  return true;
}

(async () => {
  const projectId = "demo-litestream";
  const emulator = new StorageEmulator({ projectId, port, host: "127.0.0.1", rules: [], auto_download: false });
  EmulatorRegistry.set("storage", emulator);
  const app = await createApp(projectId, emulator);
  http.createServer((req, res) => resumableChunk(emulator, req, res) || app(req, res)).listen(port, "127.0.0.1");
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
