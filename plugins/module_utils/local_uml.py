# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Starting Debian's user-mode-linux kernel (6.1) on hosts with AVX-512/AMX CPUs.

UML 6.1 sizes its XSTATE buffer for older CPUs: on such hosts the host kernel rejects
PTRACE_SETREGSET with EFAULT and init dies ("ptrace set fp regs failed, errno = 14").
hide_xstate(), run in the child before exec, makes PTRACE_GETREGSET answer EIO so that UML
falls back to PTRACE_GETFPREGS, which saves only the SSE state: programs inside must then not
use AVX, hence the glibc tunables and OpenSSL capability mask of UML_ENV.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ctypes
import os
import struct
import subprocess

UML_ENV = {
    "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX,-AVX2,-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,"
                      "-AVX512CD,-FMA,-FMA4,-F16C,-BMI1,-BMI2,-AVX_Fast_Unaligned_Load,-ERMS,"
                      "-FSRM,-XSAVEC",
    "OPENSSL_ia32cap": "~0x200000000000000:0",
}


def hide_xstate():
    """seccomp filter: ptrace(PTRACE_GETREGSET) fails with EIO (everything else is allowed)."""
    prog = [(0x20, 0, 0, 4), (0x15, 0, 5, 0xC000003E),    # arch != x86_64 -> allow
            (0x20, 0, 0, 0), (0x15, 0, 3, 101),           # nr != ptrace -> allow
            (0x20, 0, 0, 16), (0x15, 0, 1, 0x4204),       # request != GETREGSET -> allow
            (0x06, 0, 0, 0x00050000 | 5),                 # SECCOMP_RET_ERRNO | EIO
            (0x06, 0, 0, 0x7FFF0000)]                     # SECCOMP_RET_ALLOW
    buf = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in prog))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(38, 1, 0, 0, 0)                            # PR_SET_NO_NEW_PRIVS
    fprog = SockFprog(len(prog), ctypes.addressof(buf))
    if libc.prctl(22, 2, ctypes.byref(fprog), 0, 0):      # PR_SET_SECCOMP, FILTER
        os._exit(97)


def kernel_env_args():
    """UML_ENV as kernel parameters: the kernel hands them to init as its environment, so that
    even init's first shell runs without AVX (a shell that sets them itself has already run with
    AVX: long strings then come out corrupted, e.g. `export: : bad variable name`)."""
    return ["%s=%s" % item for item in sorted(UML_ENV.items())]


def shell_exports():
    """`export` line for a UML init script (its children inherit the variables)."""
    return "export " + " ".join("%s='%s'" % item for item in sorted(UML_ENV.items()))


def sshd_setenv():
    """sshd_config line so that sessions (Ansible's python) get the variables too."""
    return "SetEnv " + " ".join("%s=%s" % item for item in sorted(UML_ENV.items()))


def spawn(argv, log, cwd):
    """Start a UML kernel detached from the caller (it outlives the Ansible task), with
    hide_xstate() applied; its console goes to the open file `log`. Returns the pid."""
    proc = subprocess.Popen(list(argv) + kernel_env_args(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            cwd=cwd, start_new_session=True, close_fds=True,
                            preexec_fn=hide_xstate)
    return proc.pid
