namespace Orleans;

public enum DeactivationReasonCode
{
    None,
    ApplicationRequested,
    ActivationIdle,
    ShuttingDown,
    ApplicationError,
}

public readonly struct DeactivationReason(DeactivationReasonCode code, string description)
{
    public DeactivationReasonCode ReasonCode { get; } = code;
    public string Description { get; } = description;
    public override string ToString() => $"{ReasonCode}: {Description}";
}
