/* The C side of litestream-vfs.so: holds sqlite3_api (SQLITE_EXTENSION_INIT1/2) so that C# never mirrors
 * the sqlite3_api_routines layout, exposes the few calls the VFS makes, and implements upstream's SQL
 * functions litestream_time(), litestream_set_time(t), litestream_txid(), litestream_lag() by routing
 * them to the VFS's PRAGMA handler (SQLITE_FCNTL_PRAGMA on the "main" database). */
#include <stdlib.h>
#include "sqlite3ext.h"
SQLITE_EXTENSION_INIT1

sqlite3_vfs *lsvfs_vfs_find(const char *name) { return sqlite3_vfs_find(name); }
int lsvfs_vfs_register(sqlite3_vfs *vfs, int make_default) { return sqlite3_vfs_register(vfs, make_default); }
const char *lsvfs_uri_parameter(const char *filename, const char *param) { return sqlite3_uri_parameter(filename, param); }
void *lsvfs_malloc(int n) { return sqlite3_malloc(n); }
void lsvfs_log(int code, const char *message) { sqlite3_log(code, "%s", message); }

static void lsvfs_pragma_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const char *name = (const char *)sqlite3_user_data(ctx);
  char *az[3] = {0, (char *)name, 0};
  if (argc > 0) {
    const char *v = (const char *)sqlite3_value_text(argv[0]);
    az[2] = (char *)(v ? v : "");
  }
  int rc = sqlite3_file_control(sqlite3_context_db_handle(ctx), "main", SQLITE_FCNTL_PRAGMA, az);
  if (rc == SQLITE_OK) {
    if (az[0] == 0) {
      sqlite3_result_null(ctx);
    } else if (argc == 0 && name[11] == 'l') { /* litestream_lag: whole seconds */
      sqlite3_result_int64(ctx, atoll(az[0]));
    } else {
      sqlite3_result_text(ctx, az[0], -1, SQLITE_TRANSIENT);
    }
  } else if (rc == SQLITE_NOTFOUND) {
    sqlite3_result_error(ctx, "the main database is not opened with the litestream vfs", -1);
  } else {
    sqlite3_result_error(ctx, az[0] ? az[0] : "litestream vfs error", -1);
    sqlite3_result_error_code(ctx, rc);
  }
  sqlite3_free(az[0]);
}

static int lsvfs_register_functions(sqlite3 *db, char **err, const sqlite3_api_routines *api) {
  (void)err; (void)api;
  static const char *const pragma[] = {"litestream_time", "litestream_time", "litestream_txid", "litestream_lag"};
  static const char *const sql[] = {"litestream_time", "litestream_set_time", "litestream_txid", "litestream_lag"};
  static const int nargs[] = {0, 1, 0, 0};
  for (int i = 0; i < 4; i++) {
    int rc = sqlite3_create_function_v2(db, sql[i], nargs[i], SQLITE_UTF8, (void *)pragma[i], lsvfs_pragma_fn, 0, 0, 0);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

/* Called by the C# entry point: keeps the host's API table, adds the SQL functions to this connection and
 * (through sqlite3_auto_extension) to every connection opened later. */
int lsvfs_init(sqlite3 *db, const sqlite3_api_routines *api) {
  SQLITE_EXTENSION_INIT2(api);
  int rc = lsvfs_register_functions(db, 0, api);
  if (rc != SQLITE_OK) return rc;
  return sqlite3_auto_extension((void (*)(void))lsvfs_register_functions);
}
