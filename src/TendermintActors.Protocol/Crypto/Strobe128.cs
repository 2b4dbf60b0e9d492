namespace TendermintActors.Protocol.Crypto;

/// <summary>
/// The subset of STROBE-128 (v1.0.2) that Merlin needs: meta-AD, AD, PRF and KEY, over Keccak-f[1600] with
/// rate 166. Written from the STROBE specification.
/// </summary>
internal sealed class Strobe128
{
    private const int R = 166;
    private const byte FlagI = 1, FlagA = 1 << 1, FlagC = 1 << 2, FlagT = 1 << 3, FlagM = 1 << 4, FlagK = 1 << 5;

    private readonly byte[] _state = new byte[200];
    private int _pos;
    private int _posBegin;
    private byte _curFlags;

    public Strobe128(ReadOnlySpan<byte> protocolLabel)
    {
        ReadOnlySpan<byte> init = [1, R + 2, 1, 0, 1, 96];
        init.CopyTo(_state);
        "STROBEv1.0.2"u8.CopyTo(_state.AsSpan(6));
        KeccakF1600.Permute(_state);
        MetaAd(protocolLabel, more: false);
    }

    private Strobe128(Strobe128 other)
    {
        other._state.CopyTo(_state, 0);
        _pos = other._pos;
        _posBegin = other._posBegin;
        _curFlags = other._curFlags;
    }

    public Strobe128 Clone() => new(this);

    public void MetaAd(ReadOnlySpan<byte> data, bool more)
    {
        BeginOp(FlagM | FlagA, more);
        Absorb(data);
    }

    public void Ad(ReadOnlySpan<byte> data, bool more)
    {
        BeginOp(FlagA, more);
        Absorb(data);
    }

    public void Prf(Span<byte> output, bool more)
    {
        BeginOp(FlagI | FlagA | FlagC, more);
        Squeeze(output);
    }

    public void Key(ReadOnlySpan<byte> data, bool more)
    {
        BeginOp(FlagA | FlagC, more);
        Overwrite(data);
    }

    private void RunF()
    {
        _state[_pos] ^= (byte)_posBegin;
        _state[_pos + 1] ^= 0x04;
        _state[R + 1] ^= 0x80;
        KeccakF1600.Permute(_state);
        _pos = 0;
        _posBegin = 0;
    }

    private void Absorb(ReadOnlySpan<byte> data)
    {
        foreach (var b in data)
        {
            _state[_pos++] ^= b;
            if (_pos == R) RunF();
        }
    }

    private void Overwrite(ReadOnlySpan<byte> data)
    {
        foreach (var b in data)
        {
            _state[_pos++] = b;
            if (_pos == R) RunF();
        }
    }

    private void Squeeze(Span<byte> output)
    {
        for (var i = 0; i < output.Length; i++)
        {
            output[i] = _state[_pos];
            _state[_pos++] = 0;
            if (_pos == R) RunF();
        }
    }

    private void BeginOp(byte flags, bool more)
    {
        if (more)
        {
            if (_curFlags != flags)
                throw new InvalidOperationException($"STROBE: continued operation with flags {flags:x2} after {_curFlags:x2}");
            return;
        }
        if ((flags & FlagT) != 0)
            throw new InvalidOperationException("STROBE: transport operations are not supported");
        var oldBegin = (byte)_posBegin;
        _posBegin = _pos + 1;
        _curFlags = flags;
        Absorb([oldBegin, flags]);
        var forceF = (flags & (FlagC | FlagK)) != 0;
        if (forceF && _pos != 0) RunF();
    }
}
