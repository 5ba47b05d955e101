// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {IRelayBundle} from "./interfaces/IRelayBundle.sol";

/// @title Relay bundle
/// @notice Several ledger contracts' attestations in one transaction, applied whole or not at all.
/// @dev No state and no events: the ledger contracts emit what the indexer needs, and the bundle adds no authority.
contract RelayBundle is IRelayBundle {
    /// @inheritdoc IRelayBundle
    function relayAll(address[] calldata targets, bytes[] calldata calls) external {
        _checkBundle(targets, calls);
        for (uint256 i = 0; i < calls.length; ++i) {
            // Bubbles the target's own revert data, so the relay decodes the ledger contract's custom error.
            Address.functionCall(targets[i], calls[i]);
        }
    }

    function _checkBundle(address[] calldata targets, bytes[] calldata calls) internal view {
        if (calls.length == 0) revert RelayBundleEmpty();
        if (targets.length != calls.length) revert RelayBundleLengthMismatch(targets.length, calls.length);
        for (uint256 i = 0; i < targets.length; ++i) {
            if (targets[i].code.length == 0) revert RelayBundleTargetNotContract(i, targets[i]);
        }
    }
}
