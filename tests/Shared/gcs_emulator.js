// Serves the Cloud Storage emulator of firebase-tools (its GCS JSON API under /storage/v1, /upload/storage/v1,
// /download/storage/v1) on 127.0.0.1:<port> for the gs backend tests, its blobs under <data dir>:
//   node gcs_emulator.js <firebase-tools package dir> <port> <data dir>
// `firebase emulators:start` would first download a Java rules runtime (no network here) and start a hub and a
// logging server on fixed ports; the GCS API needs neither (it is the admin path, which no rules govern), so the
// emulator's own storage layer and express app are served directly, registered as the CLI registers them.
"use strict";
const path = require("path");
const [root, port, data] = [process.argv[2], Number(process.argv[3]), process.argv[4]];
process.env.TMPDIR = data; // the emulator keeps its blobs under os.tmpdir()
const { StorageEmulator } = require(path.join(root, "lib/emulator/storage"));
const { createApp } = require(path.join(root, "lib/emulator/storage/server"));
const { EmulatorRegistry } = require(path.join(root, "lib/emulator/registry"));

(async () => {
  const projectId = "demo-litestream";
  const emulator = new StorageEmulator({ projectId, port, host: "127.0.0.1", rules: [], auto_download: false });
  EmulatorRegistry.set("storage", emulator);
  const app = await createApp(projectId, emulator);
  app.listen(port, "127.0.0.1");
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
