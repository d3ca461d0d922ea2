using Microsoft.Extensions.Options;

namespace Homeserver.Federation.Transport;

/// <summary>Refuses transport options that could not work, naming each problem, at start-up or first use.</summary>
public sealed class FederationTransportOptionsValidator : IValidateOptions<FederationTransportOptions>
{
    public ValidateOptionsResult Validate(string? name, FederationTransportOptions options) =>
        options.Problems().ToList() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
}
