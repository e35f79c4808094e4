import { useMutation, useQueryClient } from '@tanstack/react-query';
import {
  type CancelSubscriptionInput,
  CancelSubscriptionDocument,
  type PauseSubscriptionInput,
  PauseSubscriptionDocument,
  type ResumeSubscriptionInput,
  ResumeSubscriptionDocument,
  type SubscriptionSwitchPreviewQuery,
  SubscriptionSwitchPreviewDocument,
  type SwitchSubscriptionInput,
  SwitchSubscriptionDocument,
  type SwitchSubscriptionMutation,
} from '../../api/generated/graphql';
import { graphqlRequest } from '../../api/graphql';
import { subscriptionKeys } from './queries';

/** Every action answers the same shape: the subscription after, a typed error, isRepeat. */
export type SubscriptionActionPayload = SwitchSubscriptionMutation['switchSubscription'];
export type SubscriptionError = NonNullable<SubscriptionActionPayload['error']>;
export type SwitchPreviewPayload = SubscriptionSwitchPreviewQuery['previewSubscriptionSwitch'];
export type SwitchPreview = NonNullable<SwitchPreviewPayload['preview']>;

/** What each action sends: its input as the schema has it. */
export type SubscriptionActionInput =
  | { action: 'switch'; input: SwitchSubscriptionInput }
  | { action: 'pause'; input: PauseSubscriptionInput }
  | { action: 'resume'; input: ResumeSubscriptionInput }
  | { action: 'cancel'; input: CancelSubscriptionInput };

export type SubscriptionAction = SubscriptionActionInput['action'];

function send(request: SubscriptionActionInput): Promise<SubscriptionActionPayload> {
  switch (request.action) {
    case 'switch':
      return graphqlRequest(SwitchSubscriptionDocument, { input: request.input }).then((d) => d.switchSubscription);
    case 'pause':
      return graphqlRequest(PauseSubscriptionDocument, { input: request.input }).then((d) => d.pauseSubscription);
    case 'resume':
      return graphqlRequest(ResumeSubscriptionDocument, { input: request.input }).then((d) => d.resumeSubscription);
    case 'cancel':
      return graphqlRequest(CancelSubscriptionDocument, { input: request.input }).then((d) => d.cancelSubscription);
  }
}

/**
 * One of the subscription's actions (Switch, Pause, Resume, Cancel). The key comes from the press; a
 * network failure is retried with it, so Stripe is asked once however often the request arrives. The
 * open subscription shows the answer at once, and the list is read again.
 */
export function useSubscriptionAction() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: send,
    retry: (failures, error) => failures < 2 && error instanceof TypeError,
    onSuccess: (payload) => {
      if (payload.subscription) queryClient.setQueryData(subscriptionKeys.detail(payload.subscription.id), payload.subscription);
    },
    onSettled: () => Promise.all([queryClient.invalidateQueries({ queryKey: subscriptionKeys.all }), queryClient.invalidateQueries({ queryKey: ['paymentLogs'] })]),
  });
}

/** Switch track…'s preview: asked on each press of Preview (each has its own proration date); writes nothing. */
export function useSwitchPreview() {
  return useMutation({
    mutationFn: (variables: { subscriptionId: string; track: string }) => graphqlRequest(SubscriptionSwitchPreviewDocument, variables).then((d) => d.previewSubscriptionSwitch),
  });
}
