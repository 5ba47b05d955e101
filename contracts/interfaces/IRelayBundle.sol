// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Relay bundle: attestations for several ledger contracts in one transaction
/// @notice A contract's own `multicall` takes that contract's attestations only; a document captured from a partner's
/// system (EPCIS) may touch several contracts and must be applied whole or not at all. The bundle calls each in
/// turn and reverts them all, with the failing call's own revert data, when any fails. It holds no rights: every
/// ledger contract checks each attestation's signature, never the caller.
interface IRelayBundle {
    /// @notice The bundle names no call.
    error RelayBundleEmpty();
    /// @notice Each call needs its target: `targets` and `calls` differ in length.
    error RelayBundleLengthMismatch(uint256 targets, uint256 calls);
    /// @notice A call's target holds no code (not a deployed contract): the call would succeed without doing anything.
    error RelayBundleTargetNotContract(uint256 index, address target);

    /// @notice Calls `targets[i]` with `calls[i]` in order; any failure reverts every call with that failure's data.
    function relayAll(address[] calldata targets, bytes[] calldata calls) external;
}
