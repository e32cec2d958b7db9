port module Main exposing (main)

{-| The BuildAmp example app: a form that triggers the `SendGridEmail` webhook and a button that
creates a Stripe PaymentIntent, both through the generated, typed `BuildAmp.Webhooks` module.

Each execution is then followed live: `watchExecution` opens an `EventSource` on its status
events (`static/index.html` holds the few lines of JavaScript), and every `status` event comes
back through `executionStatus`, read by the webhook's typed decoder. The page shows Stripe's
PaymentIntent, and SendGrid's or Stripe's refusal, as Elm values.

-}

import Browser
import BuildAmp.Webhooks as Webhooks exposing (Answer(..), Execution, WebhookStatus(..))
import Dict
import Html exposing (Html, button, div, h1, h2, input, label, p, text, textarea)
import Html.Attributes exposing (disabled, placeholder, value)
import Html.Events exposing (onClick, onInput)
import Http
import Json.Decode as Decode


{-| Opens an `EventSource` on an execution's status events (`Webhooks.executionEventsUrl`).
-}
port watchExecution : String -> Cmd msg


{-| The `data` of each `status` event, as the `EventSource` received it.
-}
port executionStatus : (Decode.Value -> msg) -> Sub msg


type alias Model =
    { to : String
    , subject : String
    , body : String
    , email : Maybe Webhooks.SendGridEmailExecution
    , payment : Maybe Webhooks.StripePaymentIntentExecution
    , error : Maybe String
    }


{-| A followed execution, read by its webhook's typed decoder.
-}
type Followed
    = Email Webhooks.SendGridEmailExecution
    | Payment Webhooks.StripePaymentIntentExecution


type Msg
    = SetTo String
    | SetSubject String
    | SetBody String
    | SendEmail
    | Pay
    | Triggered (Result Webhooks.Error Execution)
    | StatusEvent Decode.Value


main : Program () Model Msg
main =
    Browser.element
        { init = \_ -> ( { to = "", subject = "Hello from BuildAmp", body = "", email = Nothing, payment = Nothing, error = Nothing }, Cmd.none )
        , update = update
        , view = view
        , subscriptions = \_ -> executionStatus StatusEvent
        }


{-| The example server lets requests carrying this header (or the `demo_session` cookie, which
the `EventSource` sends) trigger and read; a real app sends its session's credentials instead.
-}
config : Webhooks.Config
config =
    { baseUrl = "", headers = [ Http.header "X-Demo-Session" "demo" ] }


emailPayload : Model -> Webhooks.SendGridEmailPayload
emailPayload model =
    { personalizations = [ { to = [ { email = model.to, name = Nothing } ], cc = [], bcc = [], subject = Nothing, dynamicTemplateData = Nothing } ]
    , from = { email = "app@example.com", name = Just "BuildAmp example" }
    , replyTo = Nothing
    , subject = Just model.subject
    , content = [ { mimeType = "text/plain", value = model.body } ]
    , templateId = Nothing
    , categories = [ "example" ]
    }


examplePayment : Webhooks.StripePaymentIntentPayload
examplePayment =
    { amount = 500
    , currency = "eur"
    , customer = Nothing
    , description = Just "BuildAmp example"
    , receiptEmail = Nothing
    , metadata = Dict.fromList [ ( "order_id", "example-1" ) ]
    , allowedPaymentMethodTypes = [ "card" ]
    , excludedPaymentMethodTypes = []
    , automaticPaymentMethods = Nothing
    }


update : Msg -> Model -> ( Model, Cmd Msg )
update msg model =
    case msg of
        SetTo to ->
            ( { model | to = to }, Cmd.none )

        SetSubject subject ->
            ( { model | subject = subject }, Cmd.none )

        SetBody body ->
            ( { model | body = body }, Cmd.none )

        SendEmail ->
            ( { model | error = Nothing, email = Nothing }, Webhooks.triggerSendGridEmailWith config (emailPayload model) Triggered )

        Pay ->
            ( { model | error = Nothing, payment = Nothing }, Webhooks.triggerStripePaymentIntentWith config examplePayment Triggered )

        Triggered (Ok execution) ->
            ( model, watchExecution (Webhooks.executionEventsUrl config execution.id) )

        Triggered (Err error) ->
            ( { model | error = Just (describe error) }, Cmd.none )

        StatusEvent data ->
            case Decode.decodeValue (Webhooks.statusEvent followed) data of
                Ok (Email execution) ->
                    ( { model | email = Just execution }, Cmd.none )

                Ok (Payment execution) ->
                    ( { model | payment = Just execution }, Cmd.none )

                Err error ->
                    ( { model | error = Just (Decode.errorToString error) }, Cmd.none )


{-| Each webhook's executions through its own typed decoder.
-}
followed : Decode.Decoder Followed
followed =
    Decode.field "webhook" Decode.string
        |> Decode.andThen
            (\webhook ->
                if webhook == "StripePaymentIntent" then
                    Decode.map Payment Webhooks.decodeStripePaymentIntentExecution

                else
                    Decode.map Email Webhooks.decodeSendGridEmailExecution
            )


describe : Webhooks.Error -> String
describe error =
    case error of
        Webhooks.BadStatus code message ->
            String.fromInt code ++ ": " ++ message

        Webhooks.BadBody message ->
            "unexpected answer: " ++ message

        Webhooks.BadUrl url ->
            "bad URL: " ++ url

        Webhooks.Timeout ->
            "the server did not answer in time"

        Webhooks.NetworkError ->
            "the server cannot be reached"


emailStatus : Webhooks.SendGridEmailExecution -> String
emailStatus { execution, answer } =
    case answer of
        Refused code (Just refusal) ->
            "SendGrid refused it (" ++ String.fromInt code ++ "): " ++ String.join "; " (List.map .message refusal.errors)

        _ ->
            status execution.status


paymentStatus : Webhooks.StripePaymentIntentExecution -> String
paymentStatus { execution, answer } =
    case answer of
        Answered intent ->
            "Stripe created " ++ intent.id ++ " for " ++ String.fromInt intent.amount ++ " " ++ String.toUpper intent.currency ++ ": it " ++ intentStatus intent.status

        Refused code (Just refusal) ->
            "Stripe refused it (" ++ String.fromInt code ++ "): " ++ Maybe.withDefault refusal.error.kind refusal.error.message

        Unreadable why ->
            "delivered, but " ++ why

        _ ->
            status execution.status


intentStatus : Webhooks.StripePaymentIntentStatus -> String
intentStatus intent =
    case intent of
        Webhooks.StripePaymentIntentStatusRequiresPaymentMethod ->
            "needs a payment method"

        Webhooks.StripePaymentIntentStatusRequiresConfirmation ->
            "needs confirming"

        Webhooks.StripePaymentIntentStatusRequiresAction ->
            "needs the customer to act"

        Webhooks.StripePaymentIntentStatusProcessing ->
            "is processing"

        Webhooks.StripePaymentIntentStatusRequiresCapture ->
            "needs capturing"

        Webhooks.StripePaymentIntentStatusCanceled ->
            "was canceled"

        Webhooks.StripePaymentIntentStatusSucceeded ->
            "succeeded"


status : WebhookStatus -> String
status webhookStatus =
    case webhookStatus of
        Pending ->
            "queued"

        Sending ->
            "sending"

        Sent response ->
            "delivered (" ++ String.fromInt response.status ++ ")"

        Failed error attempts ->
            "attempt " ++ String.fromInt attempts ++ " failed: " ++ error ++ "; retrying"

        DeadLetter reason ->
            "gave up: " ++ reason


view : Model -> Html Msg
view model =
    div []
        [ h1 [] [ text "BuildAmp example" ]
        , h2 [] [ text "Email (SendGrid)" ]
        , label [] [ text "To ", input [ value model.to, onInput SetTo, placeholder "someone@example.com" ] [] ]
        , label [] [ text "Subject ", input [ value model.subject, onInput SetSubject ] [] ]
        , textarea [ value model.body, onInput SetBody, placeholder "Message" ] []
        , button [ onClick SendEmail, disabled (String.isEmpty model.to) ] [ text "Send" ]
        , p [] [ text (Maybe.withDefault "" (Maybe.map emailStatus model.email)) ]
        , h2 [] [ text "Payment (Stripe)" ]
        , button [ onClick Pay ] [ text "Create a €5.00 payment" ]
        , p [] [ text (Maybe.withDefault "" (Maybe.map paymentStatus model.payment)) ]
        , p [] [ text (Maybe.withDefault "" model.error) ]
        ]
