/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gup_stall_kvm: what its two files share. gup_stall_kvm.c has the
 * callers, the guest's accesses, the stalled-cell flow and the case rows;
 * gup_stall_kvm_slot.c the cells about memslots (changed while a vCPU
 * waits, and bad input).
 */
#ifndef __GUP_STALL_KVM_H
#define __GUP_STALL_KVM_H

#include "gup_stall.h"

enum caller { K_READ, K_WRITE, K_MEMSLOT, NR_CALLERS };

/* The stalled page; pages before it are resolved at once. */
#define HELD		1
#define SEED_MEM	0x31	/* what the memslot under test holds */
#define SEED_GUEST	0x42	/* what a guest write puts there */
#define FILL_BYTE	0xaa	/* the result area before a guest read */
/* How long a killable wait must visibly keep a signal pending. */
#define PENDING_MS	500

/* The guest copy a cell's caller makes: read the slot, or write it. */
void vm_set_access(struct gs_vm *vm, int caller);
/* What the guest must have seen or left behind. */
void check_access(struct gs_vm *vm, int caller);
/*
 * The cell's region under a staller as the memslot of a new VM, and a
 * vCPU whose KVM_RUN waits in the fault on the held page; *state (if
 * not NULL) gets the state it sleeps in.
 */
struct gs_staller *stall_vcpu(const struct gs_cell *c, struct gs_vm *vm,
			      struct gs_region *r, struct gs_job *vcpu,
			      char *state);

/* gup_stall_kvm_slot.c */
void run_slot(const struct gs_cell *c);
void run_memslot(const struct gs_cell *c);

#endif /* __GUP_STALL_KVM_H */
