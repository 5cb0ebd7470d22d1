namespace Litestream.Testing;

/// <summary>
/// nginx with its dav module and the dav-ext module for PROPFIND (Debian's nginx and libnginx-mod-http-dav-ext,
/// .ci/install.sh), in the foreground as one process with its own config, temp directories and a {PLAIN}
/// password file under a temporary directory. Its PUT goes to a temp file and is renamed into place; a collection
/// is asked for with a trailing '/'.
/// </summary>
public sealed class NginxDav : WebDavServer
{
    /// <summary>The nginx binary.</summary>
    public const string Program = "/usr/sbin/nginx";

    /// <summary>Debian's dav-ext module.</summary>
    public const string DavExtModule = "/usr/lib/nginx/modules/ngx_http_dav_ext_module.so";

    /// <summary>Starts nginx and waits until it accepts connections.</summary>
    public NginxDav()
        : base("nginx-dav", IsInstalled ? Program : throw new InvalidOperationException(Prerequisites.Of(Need.NginxDav).Reason), Prepare)
    {
    }

    /// <summary>True when nginx and the dav-ext module are installed.</summary>
    public static bool IsInstalled => File.Exists(Program) && File.Exists(DavExtModule);

    private static IEnumerable<string> Prepare(string dir, int port)
    {
        foreach (string sub in (string[])["data", "body", "proxy", "fastcgi", "uwsgi", "scgi"])
        {
            System.IO.Directory.CreateDirectory(Path.Combine(dir, sub));
        }
        File.WriteAllText(Path.Combine(dir, "htpasswd"), $"{User}:{{PLAIN}}{Password}\n");
        string config = Path.Combine(dir, "nginx.conf");
        File.WriteAllText(config, $$"""
            load_module {{DavExtModule}};
            daemon off;
            master_process off;
            worker_processes 1;
            pid {{dir}}/nginx.pid;
            error_log {{dir}}/error.log warn;
            events { worker_connections 512; }
            http {
                access_log off;
                client_body_temp_path {{dir}}/body;
                proxy_temp_path {{dir}}/proxy;
                fastcgi_temp_path {{dir}}/fastcgi;
                uwsgi_temp_path {{dir}}/uwsgi;
                scgi_temp_path {{dir}}/scgi;
                client_max_body_size 0;
                server {
                    listen 127.0.0.1:{{port}};
                    root {{dir}}/data;
                    location / {
                        dav_methods PUT DELETE MKCOL COPY MOVE;
                        dav_ext_methods PROPFIND OPTIONS;
                        dav_access user:rw group:rw all:r;
                        auth_basic "litestream";
                        auth_basic_user_file {{dir}}/htpasswd;
                    }
                }
            }
            """);
        return ["-e", Path.Combine(dir, "error.log"), "-p", dir, "-c", config];
    }
}
