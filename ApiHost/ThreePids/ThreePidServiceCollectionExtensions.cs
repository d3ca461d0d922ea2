using Homeserver.ApiHost.Auth;
using Homeserver.Configuration.Processes;
using Microsoft.Extensions.DependencyInjection;

namespace Homeserver.ApiHost.ThreePids;

public static class ThreePidServiceCollectionExtensions
{
    /// <summary>
    /// 3PIDs: email validation when the <c>email</c> section is configured (otherwise the endpoints
    /// answer that email is not supported), and identity-server calls through
    /// the named client <see cref="IdentityServerClient.HttpClientName"/>.
    /// </summary>
    public static IServiceCollection AddThreePids(this IServiceCollection services)
    {
        services.AddSingleton<ThreePidLog>();
        services.AddSingleton<ThreePidRules>();
        services.AddSingleton<EmailIdentityStage>();
        // Resolved only where ThreePidRules.EmailConfigured said yes.
        services.AddSingleton(sp => sp.GetRequiredService<ProcessSettings>().Email
            ?? throw new InvalidOperationException("Email validation was used without an `email` section."));
        services.AddSingleton<SmtpMailer>();
        services.AddSingleton<EmailValidation>();
        // The client's own timeout is a backstop above the per-call bound that IdentityServerClient applies.
        services.AddHttpClient(IdentityServerClient.HttpClientName, client => client.Timeout = IdentityServerClient.Timeout + TimeSpan.FromSeconds(5));
        services.AddSingleton<IdentityServerClient>();
        services.AddSingleton<RequestSigner>();
        services.AddSingleton<ThreePidBindings>();
        services.AddSingleton<ThirdPartyInvites>();
        services.AddSingleton<ThirdPartyInviteExchange>();
        return services;
    }
}
