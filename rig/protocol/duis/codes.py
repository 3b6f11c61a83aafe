"""DUIS response codes (DUIS schema ``ResponseCode``) and what the rig answers them for.

Meanings follow the DCC Systems response code table. Where DUIS leaves the choice to
the DCC (a request that is not valid DUIS at all, a signature or counter that fails, a
valid service the rig does not provide), the rig uses the code named here and says why
in the reply's ``X-Rig-Reason`` header and its audit log. A refusal never has an effect:
a refused request is neither answered with something else nor sent to a device.
"""

from __future__ import annotations

SUCCESS = "I0"  # a successful outcome (synchronous response or device response)
ACKNOWLEDGED = "I99"  # accepted and passed access control; the response follows
INVALID_USER = "E1"  # not a valid SEC party / user role: unknown sender, unsigned,
#                      bad signature, replayed or lower RequestID counter
ROLE_NOT_ELIGIBLE = "E2"  # the user role may not send this Service Reference
NOT_AUTHORISED_FOR_DEVICE = "E4"  # the user is not the device's responsible party
DEVICE_STATUS = "E5"  # the device's SMI status does not allow this service
WRONG_DEVICE_TYPE = "E11"  # the service is not compatible with the device
WRONG_COMMAND_VARIANT = "E12"  # the command variant does not apply (a critical SRV as CV 1)
WRONG_URL = "E13"  # the request type is not valid for the URL (serviceS/T/D)
NOT_SERVED = "E17"  # the rig's choice: a valid SRV, or command variant (2, 3, 6, 7: local
#                    delivery), this rig does not serve (yet); nothing is done
DEVICE_UNKNOWN = "E19"  # the device does not exist
NO_COMMUNICATION = "E20"  # the DCC cannot reach the device (its hub stayed offline)
NO_RESPONSE = "E21"  # no response from the device within its target response time
NOT_DUIS = "E100"  # not valid DUIS: malformed, not UTF-8, DTD/entities, too large,
#                    schema-invalid, or a body that is not the one the SRV defines

MEANING = {
    SUCCESS: "success",
    ACKNOWLEDGED: "acknowledged: the response follows asynchronously",
    INVALID_USER: "failed authorisation: invalid user / signature / counter",
    ROLE_NOT_ELIGIBLE: "failed authorisation: user role not permitted for this service",
    NOT_AUTHORISED_FOR_DEVICE: "failed authorisation: user not authorised for the device",
    DEVICE_STATUS: "failed authorisation: device status incompatible with the service",
    WRONG_DEVICE_TYPE: "failed validation: service not compatible with the device",
    WRONG_COMMAND_VARIANT: "failed validation: command variant not applicable",
    WRONG_URL: "failed validation: request type not valid for the URL",
    NOT_SERVED: "not served: this rig does not provide this service (yet); nothing was done",
    DEVICE_UNKNOWN: "failed authorisation: the device does not exist",
    NO_COMMUNICATION: "communications failure: unable to communicate with the device",
    NO_RESPONSE: "communications failure: no response received from the device",
    NOT_DUIS: "failed validation: not a valid DUIS request",
}

# which command variants each DCC Boxed URL takes
URL_VARIANTS = {"serviceS": (1, 3, 5, 7), "serviceT": (4,), "serviceD": (2, 6, 8)}
