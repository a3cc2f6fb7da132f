namespace OrleansCompute.Grains.Coordination;

/// <summary>
/// The DI key of the clock the coordination grains read. Its monotonic timestamp alone decides
/// when a lease ends; its wall time only labels answers (<c>expiresAt</c>, <c>acquiredAt</c>). Tests
/// inject one whose wall time steps by hours to show that a clock step never cuts a lease short.
/// </summary>
public static class CoordinationClock
{
    public const string Key = "coordination";
}
