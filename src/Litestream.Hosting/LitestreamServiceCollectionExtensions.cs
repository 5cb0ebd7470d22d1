using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Litestream.Hosting;

/// <summary>Registers Litestream replication with the generic host.</summary>
public static class LitestreamServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="LitestreamHostedService"/>: on start it restores every database whose file is missing
    /// (when its replica holds a backup), then replicates in the background; on stop it syncs and uploads a last
    /// time. Register it before services that open the databases, so it starts first and stops last. The service
    /// is also available from the container, e.g. to call <see cref="LitestreamHostedService.SyncAsync"/>.
    /// </summary>
    public static IServiceCollection AddLitestream(this IServiceCollection services, Action<LitestreamOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<LitestreamOptions>().Configure(configure);
        services.TryAddSingleton(static sp => new LitestreamHostedService(
            sp.GetRequiredService<IOptions<LitestreamOptions>>().Value, sp, sp.GetService<ILoggerFactory>()));
        services.AddHostedService(static sp => sp.GetRequiredService<LitestreamHostedService>());
        return services;
    }
}
